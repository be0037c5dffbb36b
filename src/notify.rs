//! The sd_notify protocol (systemd's `NOTIFY_SOCKET`), both sides.
//!
//! As the manager, tinysup gives a program its own datagram socket ([`NotifySocket`]) and
//! reads what the program says there: `READY=1`, `STATUS=…`, and the rest of [`Message`].
//! Datagrams are taken as systemd takes them: at most 4096 bytes, no NUL byte, no file
//! descriptors; anything else is dropped whole. Each one carries the sender's pid
//! (`SO_PASSCRED`), so a message can be told from a stray process's.
//!
//! As a client, when tinysup itself runs under a manager (podman `--sdnotify=container`),
//! [`notify_manager`] sends it tinysup's own state.

use std::ffi::OsStr;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, UnixCredentials,
    bind, recv, recvmsg, setsockopt, socket, sockopt,
};
use nix::sys::stat::{Mode, fchmod};

/// The longest datagram accepted (systemd's limit). The buffer is a byte longer, to see a
/// longer one.
pub const MAX_DATAGRAM: usize = 4096;

/// The most descriptors one datagram can carry (the kernel's `SCM_MAX_FD`). With room for
/// them all, the control data is never cut short, so every descriptor received is seen,
/// and closed.
const MAX_FDS: usize = 253;

/// [`NotifySocket::drain`] stops after this many, even if a sender keeps refilling.
const DRAIN_MAX: usize = 1 << 16;

/// One program's notify socket, at `dir/<name>.sock`. The file is removed on drop.
pub struct NotifySocket {
    fd: OwnedFd,
    path: PathBuf,
}

/// One datagram that passed the checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// The sender's pid, from its credentials (none if it is outside tinysup's namespace).
    pub sender: Option<i32>,
    pub messages: Vec<Message>,
}

/// One assignment a program sent (the ones tinysup knows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `READY=1`
    Ready,
    /// `RELOADING=1`
    Reloading,
    /// `STOPPING=1`
    Stopping,
    /// `STATUS=…`, as sent (it may hold control characters: escape it to show it).
    Status(String),
    /// `ERRNO=n`
    Errno(i32),
    /// `EXTEND_TIMEOUT_USEC=n`
    ExtendTimeout(Duration),
    /// `WATCHDOG=1`
    Watchdog,
    /// `WATCHDOG=trigger`
    WatchdogTrigger,
    /// `WATCHDOG_USEC=n` (0 turns the watchdog off).
    WatchdogUsec(Duration),
    /// `MAINPID=n`
    MainPid(i32),
}

impl NotifySocket {
    /// Binds a non-blocking, close-on-exec datagram socket at `dir/<name>.sock`, replacing a
    /// stale file there, and creating `dir` (mode 0755, with its parents) when missing. The
    /// socket is mode 0600 from the start, owned by `owner` (uid, gid) when given, so the
    /// program's user can send and no one else but root.
    pub fn bind(dir: &Path, name: &str, owner: Option<(u32, u32)>) -> Result<NotifySocket, String> {
        let path = dir.join(format!("{name}.sock"));
        let fail = |path: &Path, error: io::Error| {
            format!(
                "cannot create the notify socket {}: {}",
                path.display(),
                describe(&error)
            )
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|error| fail(&path, error))?;
        let _ = std::fs::remove_file(&path);
        let open = || -> io::Result<OwnedFd> {
            let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
            let fd = socket(AddressFamily::Unix, SockType::Datagram, flags, None)?;
            // The file takes the socket's mode at bind (less the umask): 0600 from the
            // start, with no process-wide umask to change.
            fchmod(&fd, Mode::S_IRUSR | Mode::S_IWUSR)?;
            setsockopt(&fd, sockopt::PassCred, &true)?;
            bind(fd.as_raw_fd(), &UnixAddr::new(&path)?)?;
            Ok(fd)
        };
        let fd = open().map_err(|error| fail(&path, error))?;
        // From here on, a failure removes the file (drop).
        let socket = NotifySocket { fd, path };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&socket.path, Some(uid), Some(gid))
                .map_err(|error| fail(&socket.path, error))?;
        }
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads at most `max` datagrams without blocking (a flood never stalls the loop: the
    /// rest wait for the next turn) and returns the valid ones. A datagram that is empty,
    /// too long, holds a NUL byte or carries descriptors is dropped; descriptors are closed.
    pub fn receive(&self, max: usize) -> Vec<Datagram> {
        let mut buffer = [0u8; MAX_DATAGRAM + 1];
        let mut control = nix::cmsg_space!(UnixCredentials, [RawFd; MAX_FDS]);
        let mut received = Vec::new();
        for _ in 0..max {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let flags = MsgFlags::MSG_CMSG_CLOEXEC;
            let Ok(message) =
                recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, Some(&mut control), flags)
            else {
                break;
            };
            let mut valid = message.bytes > 0
                && message.bytes <= MAX_DATAGRAM
                && !message.flags.contains(MsgFlags::MSG_TRUNC);
            let mut sender = None;
            // Cut-short control data (impossible, see MAX_FDS) cannot be read: dropped.
            let cmsgs = message.cmsgs();
            valid &= cmsgs.is_ok();
            for cmsg in cmsgs.into_iter().flatten() {
                match cmsg {
                    ControlMessageOwned::ScmRights(fds) => {
                        valid = false;
                        for fd in fds {
                            let _ = nix::unistd::close(fd);
                        }
                    }
                    ControlMessageOwned::ScmCredentials(credentials) => {
                        sender = Some(credentials.pid()).filter(|&pid| pid > 0);
                    }
                    _ => {}
                }
            }
            let length = message.bytes.min(MAX_DATAGRAM);
            let text = &buffer[..length];
            if valid && !text.contains(&0) {
                received.push(Datagram {
                    sender,
                    messages: parse(text),
                });
            }
        }
        received
    }

    /// Discards everything queued (before a new run starts, so an earlier run's messages
    /// never count). Without a control buffer, the kernel closes any descriptors sent.
    pub fn drain(&self) {
        for _ in 0..DRAIN_MAX {
            if recv(self.fd.as_raw_fd(), &mut [], MsgFlags::empty()).is_err() {
                break;
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Parses one datagram: newline-separated `KEY=VALUE` assignments. Unknown keys, and a
/// known key with a malformed value, are ignored (that line only), as is a line that is
/// not UTF-8.
pub fn parse(bytes: &[u8]) -> Vec<Message> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let (key, value) = std::str::from_utf8(line).ok()?.split_once('=')?;
            let flag = |message| (value == "1").then_some(message);
            let usec = || value.parse().ok().map(Duration::from_micros);
            match key {
                "READY" => flag(Message::Ready),
                "RELOADING" => flag(Message::Reloading),
                "STOPPING" => flag(Message::Stopping),
                "STATUS" => Some(Message::Status(value.to_string())),
                "ERRNO" => value.parse().ok().filter(|&n| n >= 0).map(Message::Errno),
                "EXTEND_TIMEOUT_USEC" => usec().map(Message::ExtendTimeout),
                "WATCHDOG" if value == "trigger" => Some(Message::WatchdogTrigger),
                "WATCHDOG" => flag(Message::Watchdog),
                "WATCHDOG_USEC" => usec().map(Message::WatchdogUsec),
                "MAINPID" => value.parse().ok().filter(|&p| p > 0).map(Message::MainPid),
                _ => None,
            }
        })
        .collect()
}

/// Sends `text` (e.g. `"READY=1\nSTATUS=3 programs ready"`) to the socket a `NOTIFY_SOCKET`
/// value names: a path, or `@name` for an abstract socket. Never blocks: a manager that
/// is not reading loses the message (best effort).
pub fn notify_manager(socket: &OsStr, text: &str) -> Result<(), String> {
    let send = || -> io::Result<usize> {
        let sender = UnixDatagram::unbound()?;
        sender.set_nonblocking(true)?;
        match socket.as_bytes().strip_prefix(b"@") {
            Some(name) => {
                sender.send_to_addr(text.as_bytes(), &SocketAddr::from_abstract_name(name)?)
            }
            None => sender.send_to(text.as_bytes(), socket),
        }
    };
    send().map(drop).map_err(|error| {
        format!(
            "cannot notify the manager at {}: {}",
            socket.to_string_lossy(),
            describe(&error)
        )
    })
}

/// An I/O error without Rust's "(os error N)" suffix.
fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use Message::*;
    use nix::sys::socket::{ControlMessage, UnixAddr, sendmsg};

    /// A directory of its own under the temp dir, removed at the end.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("tinysup-notify-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn send(socket: &NotifySocket, bytes: &[u8]) {
        UnixDatagram::unbound()
            .unwrap()
            .send_to(bytes, socket.path())
            .unwrap();
    }

    #[test]
    fn parses_assignments() {
        let table: &[(&str, &[Message])] = &[
            ("READY=1", &[Ready]),
            ("READY=1\n", &[Ready]),
            ("READY=0\nREADY=yes", &[]),
            ("RELOADING=1\nSTOPPING=1", &[Reloading, Stopping]),
            (
                "STATUS=a=b c\nUNKNOWN=1\nnoequals",
                &[Status("a=b c".into())],
            ),
            ("STATUS=", &[Status(String::new())]),
            ("ERRNO=2\nERRNO=-1\nERRNO=x", &[Errno(2)]),
            (
                "EXTEND_TIMEOUT_USEC=abc\nEXTEND_TIMEOUT_USEC=1500000",
                &[ExtendTimeout(Duration::from_millis(1500))],
            ),
            (
                "WATCHDOG=1\nWATCHDOG=trigger\nWATCHDOG=2",
                &[Watchdog, WatchdogTrigger],
            ),
            ("WATCHDOG_USEC=0", &[WatchdogUsec(Duration::ZERO)]),
            ("MAINPID=12\nMAINPID=0\nMAINPID=-3", &[MainPid(12)]),
            ("ready=1\n READY=1\n\n", &[]),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text.as_bytes()), *expected, "{text:?}");
        }
        assert_eq!(
            parse(b"STATUS=\xff\nREADY=1"),
            [Ready],
            "a line that is not UTF-8"
        );
    }

    #[test]
    fn receives_with_the_senders_pid() {
        let dir = TempDir::new("receive");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        assert_eq!(socket.path(), dir.0.join("web.sock"));
        send(&socket, b"READY=1\nSTATUS=up");
        let got = socket.receive(8);
        let expected = Datagram {
            sender: Some(std::process::id() as i32),
            messages: vec![Ready, Status("up".into())],
        };
        assert_eq!(got, [expected]);
        assert_eq!(socket.receive(8), []);
    }

    #[test]
    fn drops_empty_nul_and_long_datagrams() {
        let dir = TempDir::new("invalid");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        send(&socket, b"");
        send(&socket, b"READY=1\0");
        let mut long = b"READY=1".to_vec();
        long.resize(5000, b'\n');
        send(&socket, &long);
        long.truncate(MAX_DATAGRAM);
        send(&socket, &long);
        send(&socket, b"STOPPING=1");
        let got: Vec<_> = socket.receive(16).into_iter().map(|d| d.messages).collect();
        assert_eq!(got, [vec![Ready], vec![Stopping]], "4096 bytes is the most");
    }

    #[test]
    fn drops_a_datagram_with_a_descriptor_and_closes_it() {
        let dir = TempDir::new("fd");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        let (read, write) = nix::unistd::pipe().unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sendmsg(
            sender.as_raw_fd(),
            &[IoSlice::new(b"READY=1")],
            &[ControlMessage::ScmRights(&[
                read.as_raw_fd(),
                read.as_raw_fd(),
            ])],
            MsgFlags::empty(),
            Some(&UnixAddr::new(socket.path()).unwrap()),
        )
        .unwrap();
        drop(read);
        assert_eq!(socket.receive(8), []);
        // No copy of the read end is left anywhere: the pipe has no reader.
        assert_eq!(
            nix::unistd::write(&write, b"x"),
            Err(nix::errno::Errno::EPIPE)
        );
    }

    #[test]
    fn reads_a_flood_a_bounded_number_at_a_time() {
        let dir = TempDir::new("flood");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sender.set_nonblocking(true).unwrap();
        let mut received = 0;
        for _ in 0..1000 {
            // The kernel queues few datagrams (net.unix.max_dgram_qlen): read when full.
            while let Err(error) = sender.send_to(b"WATCHDOG=1", socket.path()) {
                assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
                let got = socket.receive(4);
                assert_eq!(got.len(), 4, "a full queue, read 4 at most");
                received += got.len();
            }
        }
        loop {
            let got = socket.receive(4);
            assert!(got.len() <= 4);
            if got.is_empty() {
                break;
            }
            received += got.len();
        }
        assert_eq!(received, 1000);
    }

    #[test]
    fn drain_empties_the_queue() {
        let dir = TempDir::new("drain");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        for _ in 0..3 {
            send(&socket, b"READY=1");
        }
        socket.drain();
        assert_eq!(socket.receive(8), []);
        send(&socket, b"STOPPING=1");
        assert_eq!(socket.receive(8)[0].messages, [Stopping]);
    }

    #[test]
    fn replaces_a_stale_file_and_removes_its_own() {
        let dir = TempDir::new("stale");
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("web.sock");
        std::fs::write(&path, "stale").unwrap();
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        send(&socket, b"READY=1");
        assert_eq!(socket.receive(8).len(), 1);
        drop(socket);
        assert!(!path.exists());
    }

    #[test]
    fn creates_the_directory_and_sets_the_owner() {
        let dir = TempDir::new("owner");
        let nested = dir.0.join("a/b");
        let root = nix::unistd::geteuid().is_root();
        let owner = if root {
            (65534, 65533)
        } else {
            (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )
        };
        let socket = NotifySocket::bind(&nested, "web", Some(owner)).unwrap();
        let meta = std::fs::metadata(socket.path()).unwrap();
        assert_eq!((meta.uid(), meta.gid()), owner);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&nested).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o755 & !current_umask());
    }

    /// The umask, read without changing it (other tests run meanwhile).
    fn current_umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line[6..].trim(), 8).unwrap()
    }

    #[test]
    fn a_socket_that_cannot_be_made_names_its_path() {
        let error = NotifySocket::bind(Path::new("/proc/tinysup-no"), "web", None)
            .err()
            .unwrap();
        assert!(
            error.starts_with("cannot create the notify socket /proc/tinysup-no/web.sock: "),
            "{error}"
        );
        assert!(!error.contains("os error"), "{error}");
    }

    #[test]
    fn notifies_a_manager_at_a_path_or_an_abstract_name() {
        let dir = TempDir::new("manager");
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        let mut buffer = [0u8; 64];
        notify_manager(path.as_os_str(), "READY=1\nSTATUS=3 ready").unwrap();
        let n = manager.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"READY=1\nSTATUS=3 ready");

        let name = format!("tinysup-notify-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&address).unwrap();
        notify_manager(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = manager.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"STOPPING=1");

        let missing = dir.0.join("missing");
        let error = notify_manager(missing.as_os_str(), "READY=1").unwrap_err();
        let expected = format!(
            "cannot notify the manager at {}: No such file or directory",
            missing.display()
        );
        assert_eq!(error, expected);
    }

    #[test]
    fn the_fixture_sends_what_a_program_would() {
        let dir = TempDir::new("fixture");
        let socket = NotifySocket::bind(&dir.0, "web", None).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/notify_send.py");
        // python3 is part of the test environment (.ci/run installs it): never skipped.
        let run = |args: &[&str]| -> String {
            let output = std::process::Command::new("python3")
                .arg(script)
                .args(args)
                .env("NOTIFY_SOCKET", socket.path())
                .output()
                .expect("python3 runs the fixture");
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout).unwrap()
        };
        let stdout = run(&[
            "READY=1\nSTATUS=a=b",
            "RELOADING=1\nSTOPPING=1\nERRNO=5",
            "EXTEND_TIMEOUT_USEC=10\nWATCHDOG=1\nWATCHDOG=trigger\nWATCHDOG_USEC=20\nMAINPID=7",
            "--then-sleep",
            "0",
        ]);
        assert_eq!(stdout.matches("sent: ").count(), 3, "{stdout}");
        let got: Vec<_> = socket
            .receive(8)
            .into_iter()
            .flat_map(|d| d.messages)
            .collect();
        let us = Duration::from_micros;
        assert_eq!(
            got,
            [
                Ready,
                Status("a=b".into()),
                Reloading,
                Stopping,
                Errno(5),
                ExtendTimeout(us(10)),
                Watchdog,
                WatchdogTrigger,
                WatchdogUsec(us(20)),
                MainPid(7),
            ]
        );
        for flag in ["--fd", "--nul", "--big"] {
            assert_eq!(run(&[flag, "READY=1"]), "sent: READY=1\n");
            assert_eq!(socket.receive(8), [], "{flag}");
        }
    }
}
