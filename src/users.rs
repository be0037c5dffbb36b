//! `user` / `group`: names and ids resolved from /etc/passwd and /etc/group by tinysup
//! itself (a static binary has no NSS), and applied in the child before exec.
//!
//! Resolution happens once, when the configuration is validated, so an unknown user is a
//! configuration error before anything starts.
//!
//! The database is read as bytes: nothing requires another user's line (a full name, a
//! home) to be UTF-8, and one such byte must not make every user unknown. A name found by
//! number, and a home, are passed to programs byte for byte. A file that cannot be read is
//! said so, not taken for an empty one.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use crate::config::shown;

/// Where users are looked up.
pub const PASSWD_PATH: &str = "/etc/passwd";
/// Where groups are looked up.
pub const GROUP_PATH: &str = "/etc/group";

/// Who a program runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups, the primary group first.
    pub groups: Vec<Gid>,
    /// `USER` and `LOGNAME`: the name, or the number for an id absent from /etc/passwd.
    pub user_name: OsString,
    /// `HOME`: from /etc/passwd, or `/`.
    pub home: OsString,
}

/// /etc/passwd and /etc/group as read, or why they could not be.
pub struct UserDatabase {
    passwd: io::Result<Vec<u8>>,
    group: io::Result<Vec<u8>>,
}

impl UserDatabase {
    /// Reads both files with `read_file`.
    pub fn read(read_file: &dyn Fn(&Path) -> io::Result<Vec<u8>>) -> UserDatabase {
        UserDatabase {
            passwd: read_file(Path::new(PASSWD_PATH)),
            group: read_file(Path::new(GROUP_PATH)),
        }
    }
}

/// Which setting a resolution problem is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    User,
    Group,
}

/// Why `user` / `group` cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError {
    pub setting: Setting,
    pub message: String,
}

impl ResolveError {
    fn new(setting: Setting, message: String) -> ResolveError {
        ResolveError { setting, message }
    }
}

/// One /etc/passwd entry.
struct PasswdEntry<'a> {
    name: &'a [u8],
    uid: u32,
    gid: u32,
    home: &'a [u8],
}

/// One /etc/group entry.
struct GroupEntry<'a> {
    name: &'a [u8],
    gid: u32,
    members: &'a [u8],
}

impl GroupEntry<'_> {
    fn has_member(&self, name: &[u8]) -> bool {
        self.members.split(|&b| b == b',').any(|m| m == name)
    }
}

/// The lines of a database file that are not comments.
fn lines(file: &[u8]) -> impl Iterator<Item = &[u8]> {
    file.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.starts_with(b"#"))
}

fn passwd_entries(passwd: &[u8]) -> impl Iterator<Item = PasswdEntry<'_>> {
    lines(passwd).filter_map(|line| {
        let mut fields = line.split(|&b| b == b':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let uid = number(fields.next()?)?;
        let gid = number(fields.next()?)?;
        let _gecos = fields.next()?;
        let home = fields.next()?;
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home,
        })
    })
}

fn group_entries(group: &[u8]) -> impl Iterator<Item = GroupEntry<'_>> {
    lines(group).filter_map(|line| {
        let mut fields = line.split(|&b| b == b':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let gid = number(fields.next()?)?;
        let members = fields.next()?;
        Some(GroupEntry { name, gid, members })
    })
}

/// A decimal id: digits only (no sign, no spaces), fitting 32 bits.
fn number(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// What a `user` or `group` setting says: a number, or a name.
enum Id<'a> {
    Number(u32),
    Name(&'a str),
}

fn id(text: &str, setting: Setting) -> Result<Id<'_>, ResolveError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Id::Name(text));
    }
    let (what, kind) = match setting {
        Setting::User => ("uid", UID_T),
        Setting::Group => ("gid", GID_T),
    };
    match number(text.as_bytes()) {
        Some(NO_ID) => Err(ResolveError::new(
            setting,
            format!("{what} {NO_ID} is {kind}{NO_CHANGE}"),
        )),
        Some(n) => Ok(Id::Number(n)),
        None => Err(ResolveError::new(
            setting,
            format!(
                "{} is too large for a {what} (at most 4294967294)",
                shown::name(text)
            ),
        )),
    }
}

/// `(uid_t) -1`, and `(gid_t) -1`: the system calls take it for "no id". `setresuid` and
/// `chown` read it as "leave this one unchanged"; `setuid`, `setgid` and `setgroups` refuse
/// it. A program configured to run as it would never run as that user, so it is refused
/// before anything starts, wherever it comes from.
const NO_ID: u32 = u32::MAX;
const NO_CHANGE: &str = ": the kernel reads it as \"no change\", not as an id; use another";

/// `id`, found in a file, unless it is (uid_t) -1: then an error that starts with `where`
/// (`user "app" has gid 4294967295 in /etc/passwd`).
fn usable(
    id: u32,
    setting: Setting,
    kind: &str,
    found: impl FnOnce() -> String,
) -> Result<u32, ResolveError> {
    if id != NO_ID {
        return Ok(id);
    }
    Err(ResolveError::new(
        setting,
        format!("{}, which is {kind}{NO_CHANGE}", found()),
    ))
}

/// The C types of ids, for messages about (uid_t) -1.
const UID_T: &str = "(uid_t) -1";
const GID_T: &str = "(gid_t) -1";

/// A name from a file, for a message.
fn file_name(name: &[u8]) -> String {
    shown::quoted(&String::from_utf8_lossy(name))
}

/// `cannot read /etc/passwd: No such file or directory`.
fn cannot_read(path: &str, error: &io::Error) -> String {
    let reason = match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    };
    format!("cannot read {path}: {reason}")
}

impl Credentials {
    /// Resolves `user` (a name or a number) and an optional `group` (a name or a number)
    /// against the user database.
    ///
    /// A numeric user absent from /etc/passwd (or with no /etc/passwd at all) runs with
    /// gid 0 unless `group` is given, HOME `/`, and no supplementary groups: what
    /// `docker run --user N` does. A name needs its file. Supplementary groups need
    /// /etc/group when it exists; an absent one means none.
    pub fn resolve(
        user: &str,
        group: Option<&str>,
        database: &UserDatabase,
    ) -> Result<Credentials, ResolveError> {
        let user_id = id(user, Setting::User)?;
        let entry = match (&user_id, &database.passwd) {
            (Id::Number(uid), Ok(passwd)) => passwd_entries(passwd).find(|e| e.uid == *uid),
            (Id::Number(_), Err(_)) => None,
            (Id::Name(name), Ok(passwd)) => Some(
                passwd_entries(passwd)
                    .find(|e| e.name == name.as_bytes())
                    .ok_or_else(|| {
                        let name = shown::quoted(name);
                        ResolveError::new(
                            Setting::User,
                            format!("unknown user {name} (not in {PASSWD_PATH})"),
                        )
                    })?,
            ),
            (Id::Name(_), Err(error)) => {
                let problem = cannot_read(PASSWD_PATH, error);
                return Err(ResolveError::new(
                    Setting::User,
                    format!("{problem} (a numeric uid needs no {PASSWD_PATH})"),
                ));
            }
        };
        if let Some(e) = &entry {
            usable(e.uid, Setting::User, UID_T, || {
                let name = file_name(e.name);
                format!("user {name} has uid {NO_ID} in {PASSWD_PATH}")
            })?;
        }
        let gid = match group.map(|g| id(g, Setting::Group)).transpose()? {
            Some(Id::Number(gid)) => gid,
            Some(Id::Name(name)) => match &database.group {
                Ok(groups) => {
                    let found = group_entries(groups)
                        .find(|e| e.name == name.as_bytes())
                        .ok_or_else(|| {
                            let name = shown::quoted(name);
                            ResolveError::new(
                                Setting::Group,
                                format!("unknown group {name} (not in {GROUP_PATH})"),
                            )
                        })?;
                    usable(found.gid, Setting::Group, GID_T, || {
                        let name = shown::quoted(name);
                        format!("group {name} has gid {NO_ID} in {GROUP_PATH}")
                    })?
                }
                Err(error) => {
                    let problem = cannot_read(GROUP_PATH, error);
                    return Err(ResolveError::new(
                        Setting::Group,
                        format!("{problem} (a numeric gid needs no {GROUP_PATH})"),
                    ));
                }
            },
            None => match &entry {
                Some(e) => usable(e.gid, Setting::User, GID_T, || {
                    let name = file_name(e.name);
                    format!("user {name} has gid {NO_ID} in {PASSWD_PATH}")
                })?,
                None => 0,
            },
        };
        let mut groups = vec![Gid::from_raw(gid)];
        if let Some(entry) = &entry {
            match &database.group {
                Ok(file) => {
                    for member_of in group_entries(file).filter(|g| g.has_member(entry.name)) {
                        let extra = usable(member_of.gid, Setting::User, GID_T, || {
                            let (user, group) = (file_name(entry.name), file_name(member_of.name));
                            format!(
                                "user {user} is in group {group}, whose gid in {GROUP_PATH} is {NO_ID}"
                            )
                        })?;
                        let extra = Gid::from_raw(extra);
                        if !groups.contains(&extra) {
                            groups.push(extra);
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    let problem = cannot_read(GROUP_PATH, error);
                    return Err(ResolveError::new(
                        Setting::User,
                        format!("{problem} (it lists the user's supplementary groups)"),
                    ));
                }
            }
        }
        let uid = match (&user_id, &entry) {
            (_, Some(e)) => e.uid,
            (Id::Number(uid), None) => *uid,
            // A name always has its entry (or is an error above).
            (Id::Name(_), None) => 0,
        };
        Ok(Credentials {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            groups,
            user_name: entry.as_ref().map_or_else(
                || OsString::from(user),
                |e| OsStr::from_bytes(e.name).to_os_string(),
            ),
            home: entry.as_ref().map_or_else(
                || OsString::from("/"),
                |e| OsStr::from_bytes(e.home).to_os_string(),
            ),
        })
    }

    /// `HOME`, `USER` and `LOGNAME` for the program.
    pub fn environment(&self) -> [(&'static str, &OsStr); 3] {
        [
            ("HOME", &self.home),
            ("USER", &self.user_name),
            ("LOGNAME", &self.user_name),
        ]
    }

    /// Switches the calling (forked) process to these credentials: groups first, uid last,
    /// since dropping the uid removes the right to change the others.
    pub fn apply_in_child(&self) -> io::Result<()> {
        setgroups(&self.groups)?;
        setgid(self.gid)?;
        setuid(self.uid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"\
root:x:0:0:root:/root:/bin/sh
# a comment
broken line
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
other:x:7:7:Ren\xe9 \xff:/home/ren\xe9:/bin/sh
app:x:1000:1000::/home/app:/bin/sh
";
    const GROUP: &[u8] = b"\
root:x:0:
www-data:x:33:
app:x:1000:
caf\xe9:x:5:other
docker:x:999:app,other
audio:x:29:app
";

    fn database(passwd: &[u8], group: &[u8]) -> UserDatabase {
        UserDatabase {
            passwd: Ok(passwd.to_vec()),
            group: Ok(group.to_vec()),
        }
    }

    fn resolve(user: &str, group: Option<&str>) -> Result<Credentials, ResolveError> {
        Credentials::resolve(user, group, &database(PASSWD, GROUP))
    }

    fn absent() -> io::Result<Vec<u8>> {
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn gids(ids: &[u32]) -> Vec<Gid> {
        ids.iter().map(|&g| Gid::from_raw(g)).collect()
    }

    #[test]
    fn by_name_with_supplementary_groups() {
        let c = resolve("app", None).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (1000, 1000));
        assert_eq!(c.groups, gids(&[1000, 999, 29]));
        let home: &OsStr = "/home/app".as_ref();
        let app: &OsStr = "app".as_ref();
        assert_eq!(
            c.environment(),
            [("HOME", home), ("USER", app), ("LOGNAME", app)]
        );
    }

    #[test]
    fn by_number_known_and_unknown() {
        let c = resolve("33", None).unwrap();
        assert_eq!(
            (c.uid.as_raw(), c.gid.as_raw(), c.user_name.as_os_str()),
            (33, 33, "www-data".as_ref())
        );

        let c = resolve("4242", None).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (4242, 0));
        assert_eq!(
            (c.user_name.as_os_str(), c.home.as_os_str()),
            ("4242".as_ref(), "/".as_ref())
        );
        assert_eq!(c.groups, gids(&[0]));
    }

    #[test]
    fn bytes_that_are_not_utf8_stay_bytes() {
        let c = resolve("7", None).unwrap();
        assert_eq!(c.home.as_bytes(), b"/home/ren\xe9");
        assert_eq!(c.user_name.as_bytes(), b"other");
        assert_eq!(c.groups, gids(&[7, 5, 999]));
    }

    #[test]
    fn explicit_group_by_name_or_number() {
        let c = resolve("app", Some("www-data")).unwrap();
        assert_eq!(c.gid.as_raw(), 33);
        assert_eq!(c.groups, gids(&[33, 999, 29]));
        let c = resolve("4242", Some("5000")).unwrap();
        assert_eq!(c.gid.as_raw(), 5000);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            resolve("nobody-here", None).unwrap_err(),
            ResolveError::new(
                Setting::User,
                "unknown user \"nobody-here\" (not in /etc/passwd)".to_string()
            )
        );
        assert_eq!(
            resolve("app", Some("wheel")).unwrap_err(),
            ResolveError::new(
                Setting::Group,
                "unknown group \"wheel\" (not in /etc/group)".to_string()
            )
        );
        // Digits only are a number; a number too large for an id is not taken for a name.
        let error = resolve("99999999999", None).unwrap_err();
        assert_eq!(error.setting, Setting::User);
        assert!(error.message.contains("too large for a uid"), "{error:?}");
    }

    #[test]
    fn the_id_minus_one_is_refused_wherever_it_comes_from() {
        let passwd = b"ghost:x:4294967295:1::/:/bin/sh\nodd:x:5:4294967295::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n";
        let group = b"none:x:4294967295:app\n";
        let db = database(passwd, group);
        let check = |user: &str, group: Option<&str>, setting: Setting, expected: &str| {
            let error = Credentials::resolve(user, group, &db).unwrap_err();
            assert_eq!(error.setting, setting, "{error:?}");
            assert!(error.message.starts_with(expected), "{}", error.message);
        };
        check(
            "4294967295",
            None,
            Setting::User,
            "uid 4294967295 is (uid_t) -1",
        );
        check(
            "ghost",
            None,
            Setting::User,
            "user \"ghost\" has uid 4294967295 in /etc/passwd, which is (uid_t) -1",
        );
        check(
            "5",
            Some("4294967295"),
            Setting::Group,
            "gid 4294967295 is (gid_t) -1",
        );
        check(
            "odd",
            None,
            Setting::User,
            "user \"odd\" has gid 4294967295 in /etc/passwd, which is (gid_t) -1",
        );
        check(
            "5",
            Some("none"),
            Setting::Group,
            "group \"none\" has gid 4294967295 in /etc/group, which is (gid_t) -1",
        );
        check(
            "app",
            None,
            Setting::User,
            "user \"app\" is in group \"none\", whose gid in /etc/group is 4294967295, which is (gid_t) -1",
        );
        // One less is an ordinary id.
        let c = Credentials::resolve("4294967294", Some("4294967294"), &db).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (4294967294, 4294967294));
    }

    #[test]
    fn unreadable_files_are_named() {
        let no_passwd = UserDatabase {
            passwd: absent(),
            group: Ok(GROUP.to_vec()),
        };
        let error = Credentials::resolve("app", None, &no_passwd).unwrap_err();
        assert_eq!(
            error,
            ResolveError::new(
                Setting::User,
                "cannot read /etc/passwd: No such file or directory (a numeric uid needs no /etc/passwd)"
                    .to_string()
            )
        );
        // A number needs no file.
        let c = Credentials::resolve("4242", Some("50"), &no_passwd).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (4242, 50));

        let no_group = UserDatabase {
            passwd: Ok(PASSWD.to_vec()),
            group: absent(),
        };
        let error = Credentials::resolve("app", Some("staff"), &no_group).unwrap_err();
        assert_eq!(error.setting, Setting::Group);
        assert!(
            error
                .message
                .starts_with("cannot read /etc/group: No such file or directory")
        );
        // Absent: no supplementary groups. Unreadable: an error.
        let c = Credentials::resolve("app", None, &no_group).unwrap();
        assert_eq!(c.groups, gids(&[1000]));
        let unreadable = UserDatabase {
            passwd: Ok(PASSWD.to_vec()),
            group: Err(io::Error::from_raw_os_error(libc::EACCES)),
        };
        let error = Credentials::resolve("app", None, &unreadable).unwrap_err();
        assert_eq!(
            error.message,
            "cannot read /etc/group: Permission denied (it lists the user's supplementary groups)"
        );
    }
}
