//! Run a command on a pseudo-terminal, as an operator's shell would: stdin, stdout and
//! stderr are the terminal, so `isatty` is true in the child and in anything it starts.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

/// Everything written to the terminal (stdout and stderr together), and the exit code.
pub struct PtyRun {
    pub code: i32,
    pub output: String,
}

/// Run `cmd` with a new pseudo-terminal of 40 rows by 120 columns as its stdin, stdout and
/// stderr, and read the terminal until the last process holding it exits.
pub fn run(mut cmd: Command) -> PtyRun {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the out-pointers; name and termios are
    // optional (null).
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty"));
    cmd.stdin(io(&slave)).stdout(io(&slave)).stderr(io(&slave));
    let mut child = cmd.spawn().expect("command runs on the pty");
    drop(slave);
    drop(cmd);
    let mut file = std::fs::File::from(master);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // EIO: every process holding the terminal has closed it.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("reading the pty (fd {}): {e}", file.as_raw_fd()),
        }
    }
    let status = child.wait().expect("wait for the command");
    PtyRun {
        code: status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&bytes).replace("\r\n", "\n"),
    }
}
