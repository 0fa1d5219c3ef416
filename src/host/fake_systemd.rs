//! Test support: a private dbus-daemon and a stand-in for org.freedesktop.systemd1 on it.
//!
//! The stand-in answers the Manager methods and property reads the systemd backend uses, with
//! the wire signatures systemd uses, so the D-Bus plumbing (match rules, body types, error
//! names) is exercised without systemd as PID 1. Behaviour per unit:
//! - `caddy.service`: active; restart emits JobRemoved("done") *before* replying, as a fast job
//!   can, after an unrelated JobRemoved;
//! - `aurora.service`: reload answers JobTypeNotApplicable (no ExecReload);
//! - `cloudflared.service`: stop never finishes (for the wait timeout).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use zbus::message::Type;
use zbus::{MessageStream, ObjectPath, Variant};

/// A dbus-daemon on a socket in a temp directory; killed on drop.
pub struct Bus {
    daemon: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Start a private bus, or None where dbus-daemon is not installed.
pub fn start_bus() -> Option<Bus> {
    let bin = "/usr/bin/dbus-daemon";
    if !Path::new(bin).exists() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}/bus", dir.path().display());
    let daemon = Command::new(bin)
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if dir.path().join("bus").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(Bus {
        daemon,
        address,
        _dir: dir,
    })
}

const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

fn unit_path(unit: &str) -> String {
    // systemd escapes unit names in object paths: '.' → _2e, '-' → _2d.
    format!(
        "{MANAGER_PATH}/unit/{}",
        unit.replace('.', "_2e").replace('-', "_2d")
    )
}

type Row<'a> = (
    String,
    String,
    String,
    String,
    String,
    String,
    ObjectPath<'a>,
    u32,
    String,
    ObjectPath<'a>,
);

fn row(name: &str, active: &str, sub: &str) -> Row<'static> {
    (
        name.into(),
        format!("{name} (fake)"),
        "loaded".into(),
        active.into(),
        sub.into(),
        String::new(),
        ObjectPath::try_from(unit_path(name)).unwrap(),
        0,
        String::new(),
        ObjectPath::try_from("/").unwrap(),
    )
}

/// Own org.freedesktop.systemd1 on `address` and serve until the bus goes away.
pub async fn serve(address: &str) {
    let conn = zbus::connection::Builder::address(address)
        .build()
        .await
        .unwrap();
    // The stream must exist before the name is owned: calls queued for the name are delivered
    // as soon as we own it, and zbus hands messages only to streams that already exist.
    let mut stream = MessageStream::from(&conn);
    conn.request_name("org.freedesktop.systemd1").await.unwrap();
    while let Some(Ok(msg)) = stream.next().await {
        if msg.message_type() != Type::MethodCall {
            continue;
        }
        let hdr = msg.header();
        let member = hdr.member().map(|m| m.to_string()).unwrap_or_default();
        let r = match member.as_str() {
            "Subscribe" => conn.reply(&hdr, &()).await,
            "LoadUnit" => {
                let name: String = msg.body().deserialize().unwrap();
                let path = ObjectPath::try_from(unit_path(&name)).unwrap();
                conn.reply(&hdr, &path).await
            }
            "ListUnitsByPatterns" => {
                let (states, patterns): (Vec<String>, Vec<String>) =
                    msg.body().deserialize().unwrap();
                let all = vec![
                    row("caddy.service", "active", "running"),
                    row("openclaw-bg-worker.service", "failed", "failed"),
                    row("openclaw-gateway.service", "active", "running"),
                ];
                let rows: Vec<Row> = all
                    .into_iter()
                    .filter(|r| states.is_empty() || states.contains(&r.3) || states.contains(&r.4))
                    .filter(|r| {
                        patterns.is_empty()
                            || patterns
                                .iter()
                                .any(|p| r.0.starts_with(p.trim_end_matches('*')))
                    })
                    .collect();
                conn.reply(&hdr, &rows).await
            }
            "GetAll" => {
                let iface: String = msg.body().deserialize().unwrap();
                conn.reply(&hdr, &props_for(&iface)).await
            }
            "Get" => {
                let (iface, name): (String, String) = msg.body().deserialize().unwrap();
                let props = props_for(&iface);
                let value = props
                    .get(name.as_str())
                    .cloned()
                    .unwrap_or(Variant::from(""));
                conn.reply(&hdr, &value).await
            }
            "RestartUnit" | "StartUnit" | "ReloadOrRestartUnit" => {
                let (name, _mode): (String, String) = msg.body().deserialize().unwrap();
                let job = ObjectPath::try_from(format!("{MANAGER_PATH}/job/42")).unwrap();
                let other = ObjectPath::try_from(format!("{MANAGER_PATH}/job/41")).unwrap();
                let emit = |id: u32, path: ObjectPath<'static>, result: &'static str| {
                    let (conn, name) = (conn.clone(), name.clone());
                    async move {
                        conn.emit_signal(
                            None::<&str>,
                            MANAGER_PATH,
                            MANAGER,
                            "JobRemoved",
                            &(id, path, name, result),
                        )
                        .await
                    }
                };
                emit(41, other, "canceled").await.unwrap();
                emit(42, job.clone(), "done").await.unwrap();
                conn.reply(&hdr, &job).await
            }
            "ReloadUnit" => {
                let (name, _mode): (String, String) = msg.body().deserialize().unwrap();
                conn.reply_error(
                    &hdr,
                    "org.freedesktop.systemd1.JobTypeNotApplicable",
                    &format!("Job type reload is not applicable for unit {name}."),
                )
                .await
            }
            "StopUnit" => {
                // Accept the job and never report it finished.
                let job = ObjectPath::try_from(format!("{MANAGER_PATH}/job/43")).unwrap();
                conn.reply(&hdr, &job).await
            }
            other => {
                conn.reply_error(
                    &hdr,
                    "org.freedesktop.DBus.Error.UnknownMethod",
                    &format!("fake systemd does not know {other}"),
                )
                .await
            }
        };
        if r.is_err() {
            break;
        }
    }
}

/// The properties the stand-in reports for caddy.service, by interface.
fn props_for(iface: &str) -> HashMap<&'static str, Variant<'static>> {
    let mut props: HashMap<&str, Variant> = HashMap::new();
    if iface.ends_with(".Unit") {
        props.insert("Id", Variant::from("caddy.service"));
        props.insert("Description", Variant::from("Caddy"));
        props.insert("LoadState", Variant::from("loaded"));
        props.insert("ActiveState", Variant::from("active"));
        props.insert("SubState", Variant::from("running"));
        props.insert("UnitFileState", Variant::from("enabled"));
        props.insert("CanReload", Variant::from(true));
        props.insert(
            "ActiveEnterTimestamp",
            Variant::from(1_700_000_000_000_000u64),
        );
        props.insert(
            "FragmentPath",
            Variant::from("/usr/lib/systemd/system/caddy.service"),
        );
    } else {
        props.insert("MainPID", Variant::from(812u32));
        props.insert("NRestarts", Variant::from(2u32));
        props.insert("Result", Variant::from("success"));
    }
    props
}
