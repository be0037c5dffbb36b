//! Real daemons under tinysup as PID 1: nginx, php-fpm, redis and postgres from Debian's
//! packages, each run with its recipe (`docker/examples/daemons/`, shown in the README's
//! "Recipes for common daemons"), the recipe's paths and ports swapped for the test's.
//!
//! Each test waits until the daemon really serves (an HTTP answer, a FastCGI ping, a PONG,
//! a completed postgres start-up), never for a fixed time. They need root and the packages
//! (`.ci/run` installs them): without them they say SKIPPED, and with CI=true they fail.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Exit, Running, Stream, TIMEOUT, Tinysup, children, descendants, kill, tinysup};

// ---- the recipes ------------------------------------------------------------------------------

/// `docker/examples/daemons/`: one configuration file per daemon.
fn recipes_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "docker", "examples", "daemons"]
        .iter()
        .collect()
}

fn recipe_path(name: &str) -> PathBuf {
    recipes_dir().join(format!("{name}.json"))
}

/// The recipe `name`, as written.
fn read_recipe(name: &str) -> Value {
    let path = recipe_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// tinysup running the recipe `name`, with each string of the recipe that equals a `from`
/// (a path or a port, whole) replaced by its `to`. Every `from` must be in the recipe.
fn recipe(name: &str, replace: &[(&str, &str)]) -> Tinysup {
    let mut config = read_recipe(name);
    let mut used = vec![false; replace.len()];
    localize(&mut config, replace, &mut used);
    for ((from, _), used) in replace.iter().zip(used) {
        assert!(used, "the {name} recipe has no {from:?} any more");
    }
    tinysup(Vec::<String>::new()).env("TINYSUP_CONFIG_JSON", &config.to_string())
}

/// Replaces, in `value`, every string equal to a `from` by its `to`, and marks it `used`.
fn localize(value: &mut Value, replace: &[(&str, &str)], used: &mut [bool]) {
    match value {
        Value::String(text) => {
            if let Some(i) = replace.iter().position(|(from, _)| text == from) {
                *text = replace[i].1.to_string();
                used[i] = true;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| localize(v, replace, used)),
        Value::Object(fields) => fields.values_mut().for_each(|v| localize(v, replace, used)),
        _ => {}
    }
}

#[test]
fn the_readme_shows_the_recipes_the_tests_run() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let start = readme
        .find("\n## Recipes for common daemons\n")
        .expect("a README section \"Recipes for common daemons\"");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut shown = Vec::new();
    for block in section.split("```json\n").skip(1) {
        let json = &block[..block.find("```").expect("a closed code block")];
        let config: Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("a recipe in the README is not JSON ({e}):\n{json}"));
        let programs = config["programs"].as_object().expect("programs");
        assert_eq!(programs.len(), 1, "one program per recipe:\n{json}");
        let name = programs.keys().next().expect("a program").clone();
        assert_eq!(
            config,
            read_recipe(&name),
            "the README's {name} recipe differs from {:?}",
            recipe_path(&name)
        );
        shown.push(name);
    }
    let mut files: Vec<String> = std::fs::read_dir(recipes_dir())
        .expect("docker/examples/daemons")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            p.file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    shown.sort();
    assert_eq!(shown, files, "every recipe file is in the README, once");
}

// ---- what the tests need ----------------------------------------------------------------------

/// True if this machine can run the test: root, these files (from the Debian packages
/// `packages`) and these users. When it cannot: with CI=true this panics (the test fails);
/// otherwise it says so loudly on stderr and the caller skips.
fn needs(packages: &str, files: &[&str], users: &[&str]) -> bool {
    let mut problems = Vec::new();
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        problems.push("root".to_string());
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !Path::new(f).exists())
        .map(|f| f.to_string())
        .chain(
            users
                .iter()
                .filter(|u| user_ids(u).is_none())
                .map(|u| format!("the user {u}")),
        )
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} (apt-get install {packages}, as .ci/run does)",
            missing.join(", ")
        ));
    }
    if problems.is_empty() {
        return true;
    }
    let reason = format!("this test needs {}", problems.join(" and "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true, but {reason}"
    );
    eprintln!("SKIPPED: {reason}. With CI=true this is a failure.");
    false
}

/// The uid and gid of `user`, from /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == user)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// A directory in the system's temporary directory, removed with everything in it when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tinysup-daemons-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir(&path).expect("make a temporary directory");
        // Daemons that run as another user must reach what is inside.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the temporary directory");
        TempDir(path)
    }

    /// `NAME` inside it, as a string.
    fn join(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.join(name);
        std::fs::write(&path, contents).expect("write a file in the temporary directory");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

fn connect(port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(stream)
}

/// Waits until `condition` holds (the daemon serves, its processes are there), reading
/// tinysup's output meanwhile. Fails, with that output, when tinysup exits first or after
/// [`TIMEOUT`].
fn wait_for(run: &mut Running, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(
            !run.has_exited(),
            "tinysup exited before {what}; it printed:\n{}",
            run.transcript()
        );
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}; tinysup printed:\n{}",
            run.transcript()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// How many lines tinysup printed on `stream` that contain `text`.
fn count(run: &Running, stream: Stream, text: &str) -> usize {
    run.lines(stream)
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

/// The command line of host process `pid` (what daemons show as their title).
fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

fn is_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The one program's main process (a host pid): tinysup's only child.
fn main_process(run: &mut Running) -> i32 {
    let tinysup = run.pid();
    let mut found = Vec::new();
    wait_for(run, "tinysup has one child", || {
        found = children(tinysup);
        found.len() == 1
    });
    found[0]
}

// ---- nginx ------------------------------------------------------------------------------------

const NGINX: &str = "/usr/sbin/nginx";

/// The recipe's nginx.conf directives, with the test's port and paths.
fn nginx_conf(dir: &TempDir, port: u16) -> String {
    let d = dir.0.display();
    format!(
        "worker_processes 2;
error_log stderr notice;
pid {d}/nginx.pid;
worker_shutdown_timeout 4s;
events {{ worker_connections 64; }}
http {{
    access_log /dev/stdout;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 \"hello from nginx\\n\"; }}
    }}
}}
"
    )
}

fn http_get(port: u16) -> io::Result<String> {
    let mut stream = connect(port)?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn nginx_serves(port: u16) -> bool {
    http_get(port).is_ok_and(|a| a.starts_with("HTTP/1.1 200") && a.ends_with("hello from nginx\n"))
}

#[test]
fn nginx_serves_reloads_on_hup_and_stops_gracefully_on_quit() {
    if !needs("nginx-light", &[NGINX], &[]) {
        return;
    }
    let dir = TempDir::new("nginx");
    let port = free_port();
    let conf = dir.write("nginx.conf", &nginx_conf(&dir, port));
    let Some(mut run) = recipe("nginx", &[("/etc/nginx/nginx.conf", &conf)]).pid1() else {
        return;
    };
    wait_for(&mut run, "nginx serves HTTP", || nginx_serves(port));
    let master = main_process(&mut run);
    let mut workers = Vec::new();
    wait_for(&mut run, "nginx has its 2 workers", || {
        workers = children(master);
        workers.len() == 2
    });

    // HUP reaches the master, which reloads: new workers, the old ones leave gracefully.
    run.signal(libc::SIGHUP);
    run.expect_on(
        Stream::Stderr,
        "signal 1 (SIGHUP) received from 1, reconfiguring",
    );
    wait_for(&mut run, "new workers replace the old ones", || {
        let now = children(master);
        now.len() == 2 && now.iter().all(|w| !workers.contains(w))
    });
    assert!(
        workers.iter().all(|&w| !is_alive(w)),
        "an old worker is left"
    );
    assert!(nginx_serves(port), "{}", run.transcript());
    run.expect_on(Stream::Stdout, "\"GET / HTTP/1.0\" 200");
    assert_eq!(children(run.pid()), [master], "a reload, not a restart");

    // docker stop: TERM to tinysup, QUIT to nginx, a graceful exit with 0.
    let asked = Instant::now();
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "nginx: stopping with SIGQUIT");
    run.expect_on(Stream::Stderr, "gracefully shutting down");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    eprintln!("nginx: stopped in {:?}", asked.elapsed());
    assert_eq!(count(&run, Stream::Stderr, "nginx: started (pid "), 1);
}

// ---- php-fpm ----------------------------------------------------------------------------------

const PHP_FPM: &str = "/usr/sbin/php-fpm8.2";

/// The recipe's php-fpm.conf settings, with the test's port and paths.
fn php_fpm_conf(dir: &TempDir, port: u16) -> String {
    let d = dir.0.display();
    format!(
        "[global]
error_log = /proc/self/fd/2
pid = {d}/php-fpm.pid
process_control_timeout = 4s

[www]
user = www-data
group = www-data
listen = 127.0.0.1:{port}
pm = static
pm.max_children = 2
ping.path = /ping
catch_workers_output = yes
decorate_workers_output = no
"
    )
}

/// Sends a FastCGI GET request for `script` (the file `filename`) to 127.0.0.1:`port`, as
/// nginx would. The answer is read by [`fastcgi_answer`].
fn fastcgi_request(port: u16, script: &str, filename: &str) -> io::Result<TcpStream> {
    fn record(kind: u8, content: &[u8]) -> Vec<u8> {
        // Version 1, the type, request id 1, the content length, no padding.
        let length = (content.len() as u16).to_be_bytes();
        let mut record = vec![1, kind, 0, 1, length[0], length[1], 0, 0];
        record.extend_from_slice(content);
        record
    }
    fn length(n: usize, to: &mut Vec<u8>) {
        if n < 128 {
            to.push(n as u8);
        } else {
            to.extend_from_slice(&(n as u32 | 0x8000_0000).to_be_bytes());
        }
    }
    let mut params = Vec::new();
    for (name, value) in [
        ("SCRIPT_NAME", script),
        ("SCRIPT_FILENAME", filename),
        ("REQUEST_METHOD", "GET"),
    ] {
        length(name.len(), &mut params);
        length(value.len(), &mut params);
        params.extend_from_slice(name.as_bytes());
        params.extend_from_slice(value.as_bytes());
    }
    // BEGIN_REQUEST (role: responder), PARAMS, end of PARAMS, end of STDIN.
    let mut request = record(1, &[0, 1, 0, 0, 0, 0, 0, 0]);
    request.extend(record(4, &params));
    request.extend(record(4, &[]));
    request.extend(record(5, &[]));
    let mut stream = connect(port)?;
    stream.write_all(&request)?;
    Ok(stream)
}

/// The STDOUT of a FastCGI answer, up to END_REQUEST.
fn fastcgi_answer(mut stream: TcpStream) -> io::Result<String> {
    let mut stdout = Vec::new();
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header)?;
        let length = u16::from_be_bytes([header[4], header[5]]) as usize;
        let mut content = vec![0; length + header[6] as usize];
        stream.read_exact(&mut content)?;
        match header[1] {
            6 => stdout.extend_from_slice(&content[..length]),
            3 => return Ok(String::from_utf8_lossy(&stdout).into_owned()),
            _ => {}
        }
    }
}

fn php_fpm_pongs(port: u16) -> bool {
    fastcgi_request(port, "/ping", "/ping")
        .and_then(fastcgi_answer)
        .is_ok_and(|answer| answer.ends_with("\r\n\r\npong"))
}

#[test]
fn php_fpm_comes_back_after_its_master_is_killed() {
    if !needs("php-fpm", &[PHP_FPM], &["www-data"]) {
        return;
    }
    let dir = TempDir::new("php-fpm");
    let port = free_port();
    let conf = dir.write("php-fpm.conf", &php_fpm_conf(&dir, port));
    let slow = dir.write(
        "slow.php",
        "<?php file_put_contents('php://stderr', \"slow request started\\n\");\n\
         usleep(500000);\n\
         echo \"slow request finished\\n\";\n",
    );
    let Some(mut run) = recipe("php-fpm", &[("/etc/php/8.2/fpm/php-fpm.conf", &conf)]).pid1()
    else {
        return;
    };
    wait_for(&mut run, "php-fpm answers FastCGI pings", || {
        php_fpm_pongs(port)
    });
    run.expect_on(Stream::Stderr, "ready to handle connections");
    let master = main_process(&mut run);
    let mut workers = Vec::new();
    wait_for(&mut run, "php-fpm has its 2 workers", || {
        workers = children(master);
        workers.len() == 2
    });

    // The master dies; its workers still hold the listening socket. tinysup stops them, and
    // only then starts the next master, which can bind. (Without that, every new master
    // exits with 78 while the orphaned workers go on answering.)
    kill(master, libc::SIGKILL);
    let next = run.expect_line(
        Some(Stream::Stderr),
        |l| l.contains("ready to handle connections") || l.contains("unable to bind"),
        "the next master's start",
    );
    assert!(
        !next.contains("unable to bind"),
        "the workers of the dead master still held the port:\n{}",
        run.transcript()
    );
    assert!(
        workers.iter().all(|&w| !is_alive(w)),
        "an old worker is left"
    );
    assert_eq!(
        count(
            &run,
            Stream::Stderr,
            "php-fpm: other processes of its run are still running: stopping them with SIGTERM"
        ),
        1,
        "{}",
        run.transcript()
    );
    let master = main_process(&mut run);
    wait_for(&mut run, "the new master has its 2 workers", || {
        children(master).len() == 2
    });
    // Only the new master's workers are left to answer.
    assert!(php_fpm_pongs(port), "{}", run.transcript());

    // docker stop during a request: QUIT lets the worker finish it, then php-fpm exits 0.
    let request = fastcgi_request(port, "/slow.php", &slow).expect("send a slow request");
    run.expect_on(Stream::Stderr, "slow request started");
    let asked = Instant::now();
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "php-fpm: stopping with SIGQUIT");
    let answer = fastcgi_answer(request).expect("the slow request's answer");
    assert!(answer.ends_with("slow request finished\n"), "{answer:?}");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    eprintln!("php-fpm: stopped in {:?}", asked.elapsed());
    assert_eq!(
        count(&run, Stream::Stderr, "php-fpm: started (pid "),
        2,
        "one restart:\n{}",
        run.transcript()
    );
    assert_eq!(count(&run, Stream::Stderr, "exit code 78"), 0);
}

// ---- redis ------------------------------------------------------------------------------------

const REDIS: &str = "/usr/bin/redis-server";

fn redis_pongs(port: u16) -> bool {
    let ping = || -> io::Result<String> {
        let mut stream = connect(port)?;
        stream.write_all(b"PING\r\n")?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line)
    };
    ping().is_ok_and(|line| line == "+PONG\r\n")
}

#[test]
fn redis_serves_and_stops_on_term() {
    if !needs("redis-server", &[REDIS], &["redis"]) {
        return;
    }
    let port = free_port();
    let Some(mut run) = recipe("redis", &[("6379", &port.to_string())]).pid1() else {
        return;
    };
    wait_for(&mut run, "redis answers PING", || redis_pongs(port));
    let asked = Instant::now();
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "redis: stopping with SIGTERM");
    run.expect("Received SIGTERM scheduling shutdown");
    run.expect("Redis is now ready to exit, bye bye");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    eprintln!("redis: stopped in {:?}", asked.elapsed());
}

// ---- postgres ---------------------------------------------------------------------------------

const POSTGRES: &str = "/usr/lib/postgresql/15/bin/postgres";
const INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";

/// A fresh database cluster in a temporary directory, owned by the user postgres, listening
/// on 127.0.0.1:`port` with its socket in the directory and trust authentication.
struct Cluster {
    data: String,
    port: u16,
    /// Removed last, after the processes and the segment.
    _dir: TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = TempDir::new("postgres");
        let (uid, gid) = user_ids("postgres").expect("the user postgres");
        let data = dir.join("data");
        std::fs::create_dir(&data).expect("make the data directory");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the data directory");
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).expect("chown the data directory");
        std::os::unix::fs::chown(&dir.0, Some(uid), Some(gid)).expect("chown the directory");
        let initdb = Command::new(INITDB)
            .args(["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"])
            .args(["--no-instructions", "--no-locale"])
            .uid(uid)
            .gid(gid)
            .current_dir(&dir.0)
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        let settings = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            dir.0.display()
        );
        let auto = format!("{data}/postgresql.auto.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&auto)
            .expect("open postgresql.auto.conf");
        file.write_all(settings.as_bytes())
            .expect("write postgresql.auto.conf");
        Cluster {
            data,
            port,
            _dir: dir,
        }
    }

    /// tinysup running the postgres recipe on this cluster.
    fn recipe(&self) -> Tinysup {
        recipe("postgres", &[("/var/lib/postgresql/data", &self.data)])
    }

    fn serves(&self) -> bool {
        Postgres::connect(self.port).is_ok()
    }
}

impl Drop for Cluster {
    /// A postmaster that was killed (a failed test) leaves its System V shared memory
    /// segment behind: its id is on line 7 of postmaster.pid.
    fn drop(&mut self) {
        let pid_file = format!("{}/postmaster.pid", self.data);
        if let Ok(text) = std::fs::read_to_string(pid_file) {
            if let Some(id) = text
                .lines()
                .nth(6)
                .and_then(|l| l.split_whitespace().nth(1))
            {
                let _ = Command::new("ipcrm").args(["-m", id]).output();
            }
        }
    }
}

/// A client connection that completed postgres' start-up (user postgres, trust).
struct Postgres(TcpStream);

impl Postgres {
    fn connect(port: u16) -> io::Result<Postgres> {
        let mut body = 196_608u32.to_be_bytes().to_vec(); // protocol 3.0
        for text in ["user", "postgres", "database", "postgres", ""] {
            body.extend_from_slice(text.as_bytes());
            body.push(0);
        }
        let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        startup.extend(body);
        let mut client = Postgres(connect(port)?);
        client.0.write_all(&startup)?;
        loop {
            match client.message()? {
                (b'Z', _) => return Ok(client),
                (b'E', error) => {
                    return Err(io::Error::other(
                        String::from_utf8_lossy(&error).into_owned(),
                    ));
                }
                _ => {}
            }
        }
    }

    /// The next message: its type and body.
    fn message(&mut self) -> io::Result<(u8, Vec<u8>)> {
        let mut header = [0u8; 5];
        self.0.read_exact(&mut header)?;
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0; length.saturating_sub(4)];
        self.0.read_exact(&mut body)?;
        Ok((header[0], body))
    }

    /// Sends a query without waiting for its answer.
    fn send_query(&mut self, sql: &str) -> io::Result<()> {
        let mut message = vec![b'Q'];
        message.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
        message.extend_from_slice(sql.as_bytes());
        message.push(0);
        self.0.write_all(&message)
    }
}

/// The host pids of the postgres backends under tinysup (host pid `tinysup`) that run a
/// `DO` statement.
fn busy_backends(tinysup: i32) -> Vec<i32> {
    descendants(tinysup)
        .into_iter()
        .filter(|&p| cmdline(p).contains(") DO"))
        .collect()
}

#[test]
fn postgres_comes_back_after_its_postmaster_is_killed_under_a_busy_backend() {
    if !needs("postgresql", &[POSTGRES, INITDB], &["postgres"]) {
        return;
    }
    let cluster = Cluster::new();
    let Some(mut run) = cluster.recipe().pid1() else {
        return;
    };
    wait_for(&mut run, "postgres accepts connections", || {
        cluster.serves()
    });
    // A backend busy in an endless loop: it left the postmaster's process group (postgres
    // backends call setsid), holds the shared memory, and does not notice the postmaster's
    // death. The next postmaster refuses to start while it lives.
    let mut busy = Postgres::connect(cluster.port).expect("connect");
    busy.send_query("DO $$BEGIN LOOP END LOOP; END$$")
        .expect("send an endless query");
    let tinysup = run.pid();
    wait_for(&mut run, "a backend runs the endless query", || {
        !busy_backends(tinysup).is_empty()
    });
    let postmaster = main_process(&mut run);
    kill(postmaster, libc::SIGKILL);
    wait_for(&mut run, "postgres accepts connections again", || {
        cluster.serves()
    });
    run.expect_on(
        Stream::Stderr,
        "postgres: other processes of its run are still running: stopping them with SIGTERM",
    );
    assert!(
        busy_backends(tinysup).is_empty(),
        "the busy backend is left"
    );
    assert_eq!(
        count(&run, Stream::Stderr, "pre-existing shared memory block"),
        0,
        "{}",
        run.transcript()
    );
    assert_eq!(count(&run, Stream::Stderr, "postgres: started (pid "), 2);
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "received fast shutdown request");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
}

#[test]
fn postgres_stops_fast_on_int_with_a_client_connected() {
    if !needs("postgresql", &[POSTGRES, INITDB], &["postgres"]) {
        return;
    }
    let cluster = Cluster::new();
    // With TERM (smart shutdown) postgres waits for its clients to leave: the idle client
    // keeps it up until SIGKILL at stop_timeout. This is why the recipe says INT.
    let smart = cluster.recipe().env(
        "TINYSUP_PROGRAM_POSTGRES",
        r#"{"stop_signal": "TERM", "stop_timeout": "1s"}"#,
    );
    let Some(mut run) = smart.pid1() else {
        return;
    };
    wait_for(&mut run, "postgres accepts connections", || {
        cluster.serves()
    });
    let idle = Postgres::connect(cluster.port).expect("connect");
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "received smart shutdown request");
    run.expect_on(
        Stream::Stderr,
        "postgres: still running 1s after its stop signal: SIGKILL",
    );
    assert_eq!(run.wait(), Exit::Code(1), "{}", run.transcript());
    drop(idle);

    // The recipe: INT, a fast shutdown. Active and idle sessions are ended, a shutdown
    // checkpoint is written, postgres exits 0 and so does tinysup.
    let Some(mut run) = cluster.recipe().pid1() else {
        return;
    };
    wait_for(&mut run, "postgres accepts connections", || {
        cluster.serves()
    });
    let _idle = Postgres::connect(cluster.port).expect("connect");
    let asked = Instant::now();
    run.signal(libc::SIGTERM);
    run.expect_on(Stream::Stderr, "postgres: stopping with SIGINT");
    run.expect_on(Stream::Stderr, "received fast shutdown request");
    run.expect_on(Stream::Stderr, "database system is shut down");
    assert_eq!(run.wait(), Exit::Code(0), "{}", run.transcript());
    eprintln!("postgres: stopped in {:?}", asked.elapsed());
}
