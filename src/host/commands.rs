use super::HostFn;

pub static FNS: &[HostFn] = &[];
