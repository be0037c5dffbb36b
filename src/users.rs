//! `user` / `group`: names and ids resolved from /etc/passwd and /etc/group by tinysup
//! itself (a static binary has no NSS), and applied in the child before exec.
//!
//! Resolution happens once, when the configuration is validated, so an unknown user is a
//! configuration error before anything starts.

use std::io;

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use crate::config::shown;

/// Who a program runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups, the primary group first.
    pub groups: Vec<Gid>,
    /// `USER` and `LOGNAME`: the name, or the number for an id absent from /etc/passwd.
    pub user_name: String,
    /// `HOME`: from /etc/passwd, or `/`.
    pub home: String,
}

/// One /etc/passwd entry.
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

/// One /etc/group entry.
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, uid, gid, _, home, ..] if !name.starts_with('#') => Some(PasswdEntry {
                name,
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home,
            }),
            _ => None,
        }
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    group.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, gid, members, ..] if !name.starts_with('#') => Some(GroupEntry {
                name,
                gid: gid.parse().ok()?,
                members: members.split(',').filter(|m| !m.is_empty()).collect(),
            }),
            _ => None,
        }
    })
}

impl Credentials {
    /// Resolves `user` (a name or a number) and an optional `group` (a name or a number)
    /// against the contents of /etc/passwd and /etc/group.
    ///
    /// A numeric user absent from /etc/passwd runs with gid 0 unless `group` is given, HOME
    /// `/`, and no supplementary groups: what `docker run --user N` does.
    pub fn resolve(
        user: &str,
        group: Option<&str>,
        passwd: &str,
        group_file: &str,
    ) -> Result<Credentials, String> {
        let entry =
            match user.parse::<u32>() {
                Ok(uid) => passwd_entries(passwd).find(|e| e.uid == uid),
                Err(_) => Some(passwd_entries(passwd).find(|e| e.name == user).ok_or_else(
                    || format!("unknown user {} (not in /etc/passwd)", shown::quoted(user)),
                )?),
            };
        let gid = match group {
            Some(group) => match group.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => group_entries(group_file)
                    .find(|e| e.name == group)
                    .map(|e| e.gid)
                    .ok_or_else(|| {
                        format!("unknown group {} (not in /etc/group)", shown::quoted(group))
                    })?,
            },
            None => entry.as_ref().map_or(0, |e| e.gid),
        };
        let mut groups = vec![Gid::from_raw(gid)];
        if let Some(entry) = &entry {
            for member_of in group_entries(group_file).filter(|g| g.members.contains(&entry.name)) {
                let extra = Gid::from_raw(member_of.gid);
                if !groups.contains(&extra) {
                    groups.push(extra);
                }
            }
        }
        Ok(Credentials {
            uid: Uid::from_raw(match &entry {
                Some(e) => e.uid,
                None => user.parse().unwrap_or_default(),
            }),
            gid: Gid::from_raw(gid),
            groups,
            user_name: entry
                .as_ref()
                .map_or_else(|| user.to_string(), |e| e.name.to_string()),
            home: entry
                .as_ref()
                .map_or_else(|| "/".to_string(), |e| e.home.to_string()),
        })
    }

    /// `HOME`, `USER` and `LOGNAME` for the program.
    pub fn environment(&self) -> [(&str, &str); 3] {
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

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment
broken line
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
";
    const GROUP: &str = "\
root:x:0:
www-data:x:33:
app:x:1000:
docker:x:999:app,other
audio:x:29:app
";

    fn gids(ids: &[u32]) -> Vec<Gid> {
        ids.iter().map(|&g| Gid::from_raw(g)).collect()
    }

    #[test]
    fn by_name_with_supplementary_groups() {
        let c = Credentials::resolve("app", None, PASSWD, GROUP).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (1000, 1000));
        assert_eq!(c.groups, gids(&[1000, 999, 29]));
        assert_eq!(
            c.environment(),
            [("HOME", "/home/app"), ("USER", "app"), ("LOGNAME", "app")]
        );
    }

    #[test]
    fn by_number_known_and_unknown() {
        let c = Credentials::resolve("33", None, PASSWD, GROUP).unwrap();
        assert_eq!(
            (c.uid.as_raw(), c.gid.as_raw(), c.user_name.as_str()),
            (33, 33, "www-data")
        );

        let c = Credentials::resolve("4242", None, PASSWD, GROUP).unwrap();
        assert_eq!((c.uid.as_raw(), c.gid.as_raw()), (4242, 0));
        assert_eq!((c.user_name.as_str(), c.home.as_str()), ("4242", "/"));
        assert_eq!(c.groups, gids(&[0]));
    }

    #[test]
    fn explicit_group_by_name_or_number() {
        let c = Credentials::resolve("app", Some("www-data"), PASSWD, GROUP).unwrap();
        assert_eq!(c.gid.as_raw(), 33);
        assert_eq!(c.groups, gids(&[33, 999, 29]));
        let c = Credentials::resolve("4242", Some("5000"), PASSWD, GROUP).unwrap();
        assert_eq!(c.gid.as_raw(), 5000);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            Credentials::resolve("nobody-here", None, PASSWD, GROUP).unwrap_err(),
            "unknown user \"nobody-here\" (not in /etc/passwd)"
        );
        assert_eq!(
            Credentials::resolve("app", Some("wheel"), PASSWD, GROUP).unwrap_err(),
            "unknown group \"wheel\" (not in /etc/group)"
        );
    }
}
