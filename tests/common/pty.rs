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

/// An interactive program on a pseudo-terminal: keys are typed into it and its screen output
/// is read as it comes, the way tmux send-keys and capture-pane drive one.
pub struct Session {
    master: std::fs::File,
    child: std::process::Child,
    /// Everything read so far, `\r\n` as `\n`.
    pub output: String,
    /// Where the next [`Session::expect`] starts looking.
    cursor: usize,
}

/// How long a session may go without showing what is expected before the test gives up: a
/// guard against a hang, not a measure of speed.
const STALL: std::time::Duration = std::time::Duration::from_secs(120);

impl Session {
    pub fn spawn(mut cmd: Command) -> Session {
        let (mut master, mut slave) = (-1, -1);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: as in `run`.
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
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty"));
        cmd.stdin(io(&slave)).stdout(io(&slave)).stderr(io(&slave));
        // The child gets the terminal as its controlling one, so Ctrl-C and job control work.
        // SAFETY: setsid and ioctl are async-signal-safe; they run in the child before exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("command runs on the pty");
        drop(slave);
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        Session {
            master: std::fs::File::from(master),
            child,
            output: String::new(),
            cursor: 0,
        }
    }

    /// Type `text` (use "\r" for Enter, as a terminal sends it).
    pub fn send(&mut self, text: &str) {
        use std::io::Write;
        self.master
            .write_all(text.as_bytes())
            .expect("write to the pty");
    }

    /// Type a line and Enter.
    pub fn line(&mut self, text: &str) {
        self.send(&format!("{text}\r"));
    }

    /// Read what is there; false once every process holding the terminal has closed it.
    fn pump(&mut self) -> bool {
        let mut fds = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut fds, 1, 100) };
        let mut buf = [0u8; 8192];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "");
                    self.output.push_str(&text);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::EIO) => return false,
                Err(e) => panic!("reading the pty: {e}"),
            }
        }
    }

    /// Wait until `needle` appears after what earlier expects consumed; returns the text from
    /// there to the end of the needle. Panics with the whole screen when it never comes.
    pub fn expect(&mut self, needle: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            if let Some(at) = self.output[self.cursor..].find(needle) {
                let end = self.cursor + at + needle.len();
                let seen = self.output[self.cursor..end].to_string();
                self.cursor = end;
                return seen;
            }
            let open = self.pump();
            if !open || start.elapsed() > STALL {
                let _ = self.pump();
                if let Some(at) = self.output[self.cursor..].find(needle) {
                    let end = self.cursor + at + needle.len();
                    let seen = self.output[self.cursor..end].to_string();
                    self.cursor = end;
                    return seen;
                }
                panic!(
                    "never saw {needle:?} ({}):\n{}",
                    if open { "stalled" } else { "the program ended" },
                    self.output
                );
            }
        }
    }

    /// What has been shown and not yet consumed by [`Session::expect`].
    pub fn unread(&self) -> &str {
        &self.output[self.cursor..]
    }

    /// Wait until something more is shown; panics with the screen if the program ended or
    /// stalled without showing more.
    pub fn wait_for_more(&mut self) {
        let start = std::time::Instant::now();
        let len = self.output.len();
        while self.output.len() == len {
            let open = self.pump();
            if self.output.len() == len && (!open || start.elapsed() > STALL) {
                panic!("nothing more shown:\n{}", self.output);
            }
        }
    }

    /// Read to the end and wait for the program: its exit code and everything it showed.
    pub fn finish(mut self) -> (i32, String) {
        let start = std::time::Instant::now();
        while self.pump() {
            assert!(
                start.elapsed() < STALL,
                "the program does not end:\n{}",
                self.output
            );
        }
        let status = self.child.wait().expect("wait for the program");
        (status.code().unwrap_or(-1), self.output)
    }
}
