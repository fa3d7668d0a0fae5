//! A stand-in file server: fills a handle table with a simulated workload and
//! serves the admin endpoint on a Unix socket and/or TCP with TLS, so `qq`
//! can list and force-close its handles.
//!
//! ```text
//! cargo run --release --features admin --example admin_server -- \
//!     --unix /tmp/smbh.sock --tcp 127.0.0.1:8000 --user admin --password secret [--handles N]
//!     [--sessions M] [--read-only-user NAME --read-only-password PW]
//!     [--cert cert.pem --key key.pem] [--state-dir DIR [--persistent N]]
//! ```
//!
//! `--state-dir DIR` (built with the `store` feature: `--features
//! admin,store`) keeps persistent handles in `DIR/handles.db`: on start it
//! recovers what the store holds (each handle at its location,
//! disconnected, closed when its timeout of 300 s passes unless its client
//! reconnects), and makes its example handles only into an empty store;
//! `--persistent N` makes N of those `--handles` persistent.
//!
//! With `--sessions M` the `--handles N` are opened through M SMB sessions
//! (users `user1`…, SIDs `S-1-5-21-1004336348-1177238915-682003330-1101`…,
//! clients `10.0.0.11`…), each tree-connected to one or two of the shares
//! `finance`, `eng` and `home`; a third of the opens deny others write and
//! delete, another third deny delete, and every other open holds
//! byte-range locks. Without it the handles are opened outside sessions.
//! `--read-only-user` adds a login that may list but not close.
//!
//! `--etcd URL --cluster NAME --node NAME --cluster-key FILE` (built with
//! `--features admin,cluster`) joins a cluster (contract §17): the admin
//! endpoint answers for every node, peers reach this one at its `--tcp`
//! address, and `ready` names the node id (`node=N`). Its example files
//! are numbered from N x 10^6, and `--persistent N` keeps persistent
//! handles in etcd. `--commands` reads `reconnect PERSISTENT_ID_HEX
//! CREATE_GUID CLIENT_GUID OWNER` lines on stdin (a client's DH2C
//! reconnect; a dead node's open is taken over first) and answers each
//! with a `reconnected LOCATION locks=N` or `refused REASON` line.
//!
//! Either transport may be left out. Without `--cert`/`--key` a self-signed
//! certificate for `localhost` and `127.0.0.1` is generated (qq does not
//! verify certificates). Says on stderr, at once, that it is starting (before
//! hashing the password, opening the simulated handles and making the
//! certificate), then prints one line starting with `ready` on stdout once
//! every listener accepts, a `closed ...` line on stderr per force-closed handle,
//! and stops cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use smb_handles::admin::{self, AdminConfig, Credentials, TlsIdentity};
use smb_handles::{
    AccessMask, ClientGuid, CreateGuid, DurableSpec, FileNumber, HandleTable, LockElement,
    LockKind, OpenSpec, PersistentId, ReconnectSpec, SessionSpec, ShareAccess, User,
};
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str =
    "usage: admin_server [--unix PATH] [--tcp ADDR:PORT] --user NAME --password SECRET \
[--handles N] [--sessions M] [--read-only-user NAME --read-only-password PW] \
[--cert CERT.pem --key KEY.pem] [--state-dir DIR [--persistent N]] \
[--etcd URL --cluster NAME --node NAME --cluster-key FILE [--persistent N]] [--commands]";

/// Handles opened when `--handles` is not given.
const DEFAULT_HANDLES: usize = 100;

#[derive(Debug, Default)]
struct Args {
    unix: Option<PathBuf>,
    tcp: Option<SocketAddr>,
    user: Option<String>,
    password: Option<String>,
    handles: Option<usize>,
    sessions: Option<usize>,
    read_only_user: Option<String>,
    read_only_password: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    persistent: usize,
    etcd: Option<String>,
    cluster: Option<String>,
    node: Option<String>,
    cluster_key: Option<PathBuf>,
    commands: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--commands" {
            args.commands = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--unix" => args.unix = Some(value.into()),
            "--tcp" => args.tcp = Some(value.parse().map_err(|e| format!("--tcp {value}: {e}"))?),
            "--user" => args.user = Some(value),
            "--password" => args.password = Some(value),
            "--handles" => {
                args.handles = Some(value.parse().map_err(|e| format!("--handles {value}: {e}"))?)
            }
            "--sessions" => {
                let m = value.parse().map_err(|e| format!("--sessions {value}: {e}"))?;
                if m == 0 {
                    return Err("--sessions must be at least 1".into());
                }
                args.sessions = Some(m);
            }
            "--read-only-user" => args.read_only_user = Some(value),
            "--read-only-password" => args.read_only_password = Some(value),
            "--cert" => args.cert = Some(value.into()),
            "--key" => args.key = Some(value.into()),
            "--state-dir" => args.state_dir = Some(value.into()),
            "--persistent" => {
                args.persistent = value.parse().map_err(|e| format!("--persistent {value}: {e}"))?
            }
            "--etcd" => args.etcd = Some(value),
            "--cluster" => args.cluster = Some(value),
            "--node" => args.node = Some(value),
            "--cluster-key" => args.cluster_key = Some(value.into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.unix.is_none() && args.tcp.is_none() {
        return Err("give --unix, --tcp or both".into());
    }
    if args.cert.is_some() != args.key.is_some() {
        return Err("--cert and --key go together".into());
    }
    if args.persistent > 0 && args.state_dir.is_none() && args.etcd.is_none() {
        return Err(
            "--persistent needs --state-dir or --etcd (persistent handles live in a store)".into(),
        );
    }
    if args.read_only_user.is_some() != args.read_only_password.is_some() {
        return Err("--read-only-user and --read-only-password go together".into());
    }
    let clustered = [args.etcd.is_some(), args.cluster.is_some(), args.node.is_some()];
    if clustered.iter().any(|&c| c) || args.cluster_key.is_some() {
        if !clustered.iter().all(|&c| c) {
            return Err("--etcd, --cluster and --node go together".into());
        }
        if args.cluster_key.is_none() {
            return Err("a cluster needs --cluster-key FILE (at least 32 random bytes): a node \
                        refuses to join rather than talk to its peers unauthenticated"
                .into());
        }
        if args.tcp.is_none() {
            return Err("a cluster needs --tcp ADDR: where the other nodes reach this one".into());
        }
    }
    Ok(args)
}

/// Opens `n` handles the way a small office would: a few hot files opened
/// by many clients, directories held open for change notification, some
/// byte-range locks; the first `persistent` files' opens persistent.
fn simulate(table: &HandleTable, n: usize, persistent: usize, base: u64) {
    const SHARES: [&str; 4] = ["projects", "finance", "home", "scratch"];
    const FILES: [&str; 5] = ["report.xlsx", "budget.ods", "notes.txt", "build.log", "photo.jpg"];
    let files = (n * 2 / 3).max(1) as u64;
    for i in 0..n {
        let f = i as u64 % files;
        let directory = f % 7 == 6;
        let share = SHARES[(f % 4) as usize];
        let path = if directory {
            format!("/{share}/dir{f}")
        } else {
            format!("/{share}/q{}/{}", f % 4 + 1, FILES[(f % 5) as usize])
        };
        let access_mask = match (directory, i % 3) {
            (true, _) => {
                AccessMask::FILE_READ_DATA | AccessMask::FILE_EXECUTE | AccessMask::SYNCHRONIZE
            }
            (false, 0) => {
                AccessMask::FILE_READ_DATA
                    | AccessMask::FILE_READ_ATTRIBUTES
                    | AccessMask::SYNCHRONIZE
            }
            (false, 1) => {
                AccessMask::FILE_READ_DATA
                    | AccessMask::FILE_WRITE_DATA
                    | AccessMask::FILE_APPEND_DATA
                    | AccessMask::SYNCHRONIZE
            }
            (false, _) => AccessMask::DELETE | AccessMask::FILE_READ_ATTRIBUTES,
        };
        let owner = format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1100 + i % 9);
        let mut spec = OpenSpec::new(FileNumber(base + 1000 + f), path, owner, access_mask)
            .directory(directory);
        if i < persistent {
            let client = ClientGuid(0xC0DE_0000 + i as u128);
            let timeout = std::time::Duration::from_secs(300);
            let d = DurableSpec::v2(client, CreateGuid(i as u128 + 1), timeout).persistent(true);
            spec = spec.durable(d);
        }
        let loc = table.open(spec).expect("the example's opens are valid");
        if i < persistent && !directory {
            // Each persistent open holds a byte-range lock of its own.
            let el = LockElement { offset: 64 * i as u64, length: 16, kind: LockKind::Exclusive };
            table.lock(loc, &[el]).expect("a free range");
        }
        if !directory && i % 4 == 1 {
            let _ = table.adjust_byte_range_locks(loc, (i % 3 + 1) as i64);
        }
    }
}

/// The shares `--sessions` connects to.
const SESSION_SHARES: [&str; 3] = ["finance", "eng", "home"];

/// Opens `n` handles through `m` sessions: session `i` is `user{i+1}`
/// from `10.0.0.{11+i}` (wrapping into the next octets past 255),
/// tree-connected to `SESSION_SHARES[i % 3]` and, for even `i`, also to the
/// next share; handle `j` is in session `j % m`, each on a file of its own
/// (`/<share>/user<k>/file<j>.dat`, file number `2000 + j`). Share modes,
/// by `(j + j / m) % 3` so that every session has each kind: `0` reads and
/// denies write and delete, `1` reads and writes and denies delete, `2`
/// reads sharing everything. Byte-range locks: odd `j`
/// holds an exclusive lock on `[0, 4096)`, `j % 4 == 3` also a shared one
/// on `[8192, 8292)`. The first `persistent` handles are persistent.
fn simulate_sessions(table: &HandleTable, n: usize, m: usize, persistent: usize, base: u64) {
    let mut trees = Vec::with_capacity(m);
    for i in 0..m {
        let k = i + 11;
        let addr = std::net::Ipv4Addr::new(10, (k >> 16) as u8, (k >> 8) as u8, k as u8);
        let user = User::new(
            format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1101 + i),
            format!("user{}", i + 1),
        )
        .posix(2001 + i as u32, 100);
        let spec = SessionSpec::new(0x4000_0000_0001 + i as u64, user, addr.into())
            .server_address("10.0.0.1".parse().expect("an address"))
            .encrypted(i % 2 == 1)
            .dialect(0x0311);
        let s = table.session_setup(spec).expect("the example's sessions are valid");
        let mut mine = vec![table.tree_connect(s, SESSION_SHARES[i % 3]).expect("a share")];
        if i % 2 == 0 {
            mine.push(table.tree_connect(s, SESSION_SHARES[(i + 1) % 3]).expect("a share"));
        }
        trees.push(mine);
    }
    for j in 0..n {
        let i = j % m;
        let tree = trees[i][(j / m) % trees[i].len()];
        let share = table.tree(tree).expect("connected").share_name;
        let (access, share_access) = match (j + j / m) % 3 {
            0 => (AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE, ShareAccess::READ),
            1 => (
                AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA | AccessMask::SYNCHRONIZE,
                ShareAccess::READ | ShareAccess::WRITE,
            ),
            _ => (AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE, ShareAccess::all()),
        };
        let owner = format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1101 + i);
        let path = format!("/{share}/user{}/file{j}.dat", i + 1);
        let mut spec = OpenSpec::new(FileNumber(base + 2000 + j as u64), path, owner, access)
            .share_access(share_access)
            .tree(tree);
        if j < persistent {
            // Client 0xC0DE0000 + j, create GUID j + 1: what a reconnect
            // (`--commands`) names.
            let client = ClientGuid(0xC0DE_0000 + j as u128);
            let timeout = std::time::Duration::from_secs(300);
            spec = spec.durable(
                DurableSpec::v2(client, CreateGuid(j as u128 + 1), timeout).persistent(true),
            );
        }
        let loc = table.open(spec).expect("the example's opens are valid");
        let lock = |offset, length, kind| LockElement { offset, length, kind };
        if j % 2 == 1 {
            table.lock(loc, &[lock(0, 4096, LockKind::Exclusive)]).expect("a free range");
        }
        if j % 4 == 3 {
            table.lock(loc, &[lock(8192, 100, LockKind::Shared)]).expect("a free range");
        }
    }
}

/// The table over `DIR/handles.db`, and how many handles it recovered.
#[cfg(feature = "store")]
fn recover(
    dir: &std::path::Path,
) -> Result<(HandleTable, Option<usize>), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let store = smb_handles::store::SqliteStore::open(dir.join("handles.db"))?;
    let (table, r) = HandleTable::with_store(smb_handles::Config::default(), Arc::new(store))?;
    for d in &r.damaged {
        eprintln!("admin_server: store: damaged record: {d}");
    }
    for (id, why) in &r.refused {
        eprintln!("admin_server: store: record {id:#x} not restored: {why}");
    }
    Ok((table, Some(r.restored)))
}

#[cfg(not(feature = "store"))]
fn recover(
    _: &std::path::Path,
) -> Result<(HandleTable, Option<usize>), Box<dyn std::error::Error>> {
    Err("--state-dir needs the store feature: build with --features admin,store".into())
}

/// Takes a dead node's persistent open over into the table (the cluster's
/// `take_over`), for a reconnect that found it nowhere here.
type TakeOverFn = dyn Fn(&HandleTable, PersistentId) -> Result<(), String> + Send + Sync;
type TakeOver = Arc<TakeOverFn>;

/// Makes the table over this node's store in etcd (and what it recovered).
type Recovering = (HandleTable, Option<usize>);
type MakeTable = Box<dyn Fn() -> Result<Recovering, Box<dyn std::error::Error>>>;

/// A joined cluster, as the example uses it.
struct Joined {
    federation: Arc<dyn smb_handles::admin::Federation>,
    id: u64,
    leave: Box<dyn Fn()>,
    /// The table over this node's store in etcd.
    table: MakeTable,
    take_over: TakeOver,
}

/// `--commands`: reads lines from stdin, as an SMB server's connections
/// would ask, and answers each with one line on stdout:
///
/// `reconnect PERSISTENT_ID_HEX CREATE_GUID CLIENT_GUID OWNER` (a DH2C
/// reconnect of a persistent handle): `reconnected LOCATION locks=N`, or
/// `refused REASON`. An open no handle of this table has is taken over from
/// a dead node of the cluster first.
fn commands(table: &HandleTable, take_over: Option<&TakeOverFn>) {
    use std::io::BufRead;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let w: Vec<&str> = line.split_whitespace().collect();
        let answer = match w.as_slice() {
            ["reconnect", id, guid, client, owner] => {
                let parsed =
                    (u64::from_str_radix(id, 16), guid.parse::<u128>(), client.parse::<u128>());
                match parsed {
                    (Ok(id), Ok(guid), Ok(client)) => {
                        let id = PersistentId(id);
                        let spec =
                            ReconnectSpec::v2(id, CreateGuid(guid), ClientGuid(client), *owner)
                                .persistent(true);
                        let mut r = table.reconnect(&spec).map_err(|e| e.to_string());
                        if r.is_err() {
                            if let Some(take) = take_over {
                                r = take(table, id).and_then(|()| {
                                    table.reconnect(&spec).map_err(|e| e.to_string())
                                });
                            }
                        }
                        match r {
                            Ok(back) => {
                                let locks = table
                                    .get(back.location)
                                    .map_or(0, |h| h.handle_info.num_byte_range_locks);
                                format!("reconnected {} locks={locks}", back.location)
                            }
                            Err(e) => format!("refused {e}"),
                        }
                    }
                    _ => "refused bad numbers".to_owned(),
                }
            }
            _ => format!("refused unknown command {line:?}"),
        };
        println!("{answer}");
    }
}

/// Joins the cluster the flags name, reachable at `addr`.
#[cfg(feature = "cluster")]
fn join(
    args: &Args,
    addr: SocketAddr,
    identity: &TlsIdentity,
) -> Result<Joined, Box<dyn std::error::Error>> {
    use smb_handles::cluster::{Cluster, ClusterConfig, ClusterKey};
    let key = ClusterKey::from_file(args.cluster_key.as_deref().ok_or("no --cluster-key")?)?;
    let etcd = args.etcd.clone().ok_or("no --etcd")?;
    let name = args.cluster.clone().ok_or("no --cluster")?;
    let node = args.node.clone().ok_or("no --node")?;
    let config = ClusterConfig::new(etcd, name, node, addr, key)
        .certificate_sha256(identity.certificate_sha256());
    let cluster = Cluster::join(config)?;
    let (c, s, t) = (cluster.clone(), cluster.clone(), cluster.clone());
    Ok(Joined {
        federation: cluster.clone(),
        id: cluster.id(),
        leave: Box::new(move || c.leave()),
        table: Box::new(move || {
            let store = smb_handles::cluster::EtcdStore::new(&s)?;
            let (table, r) =
                HandleTable::with_store(smb_handles::Config::default(), Arc::new(store))?;
            Ok((table, Some(r.restored)))
        }),
        take_over: Arc::new(move |table, id| {
            t.take_over(table, id).map(|_| ()).map_err(|e| e.to_string())
        }),
    })
}

/// Without the cluster feature there is nothing to join.
#[cfg(not(feature = "cluster"))]
fn join(_: &Args, _: SocketAddr, _: &TlsIdentity) -> Result<Joined, Box<dyn std::error::Error>> {
    Err("--etcd needs the cluster feature: build with --features admin,cluster".into())
}

fn self_signed() -> Result<TlsIdentity, Box<dyn std::error::Error>> {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    Ok(TlsIdentity::from_pem(ck.cert.pem().as_bytes(), ck.signing_key.serialize_pem().as_bytes())?)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let user = args.user.clone().ok_or("--user is required")?;
    let password = args.password.clone().ok_or("--password is required")?;
    // The read-only user's password is hashed meanwhile on a thread of its
    // own (Argon2 takes a while), so `ready` comes no later for it.
    let read_only = args
        .read_only_user
        .clone()
        .zip(args.read_only_password.clone())
        .map(|(name, pw)| std::thread::spawn(move || Credentials::new(&name, &pw)));
    let handles = args.handles.unwrap_or(DEFAULT_HANDLES);

    let mut config = AdminConfig::new(Credentials::new(&user, &password)?).on_force_close(|h| {
        eprintln!("closed {} (file {})", h.handle_info.location, h.file_number.0);
    });
    if let Some(hashing) = read_only {
        config = config.read_only_user(hashing.join().map_err(|_| "hashing panicked")??);
    }
    if let Some(path) = &args.unix {
        config = config.unix_socket(path);
    }
    let mut cluster = None;
    if let Some(mut addr) = args.tcp {
        let identity = match (&args.cert, &args.key) {
            (Some(c), Some(k)) => TlsIdentity::from_pem_files(c, k)?,
            _ => self_signed()?,
        };
        if args.etcd.is_some() {
            if addr.port() == 0 {
                // The peers need the port before the endpoint serves.
                addr = std::net::TcpListener::bind(addr)?.local_addr()?;
            }
            let joined = join(&args, addr, &identity)?;
            config = config.federation(joined.federation.clone());
            cluster = Some(joined);
        }
        config = config.tls(addr, identity);
    }
    let (table, recovered) = match (&args.state_dir, &cluster) {
        (Some(dir), _) => recover(dir)?,
        // In a cluster, persistent handles are kept in etcd.
        (None, Some(c)) if args.persistent > 0 => (c.table)()?,
        _ => (HandleTable::new(), None),
    };
    let table = Arc::new(table);
    if args.commands {
        let (t, take_over) = (table.clone(), cluster.as_ref().map(|c| c.take_over.clone()));
        std::thread::spawn(move || commands(&t, take_over.as_deref()));
    }

    // The example's handles go only into an empty store. In a cluster each
    // node's files are its own (file numbers from node id x 10^6), as if
    // each served its own shares.
    let base = cluster.as_ref().map_or(0, |c| c.id * 1_000_000);
    if recovered.unwrap_or(0) == 0 {
        match args.sessions {
            Some(m) => simulate_sessions(&table, handles, m, args.persistent, base),
            None => simulate(&table, handles, args.persistent, base),
        }
    }

    // Signals are set up before serving, so none is missed after `ready`.
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let (mut term, mut int) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;

    let server = admin::serve(table.clone(), config)?;
    let mut ready = format!("ready handles={}", table.len());
    if let Some(n) = recovered {
        ready += &format!(" recovered={n}");
    }
    if args.sessions.is_some() {
        ready += &format!(" sessions={}", table.session_count());
    }
    if let Some(p) = server.unix_socket() {
        ready += &format!(" unix={}", p.display());
    }
    if let Some(a) = server.tcp_addr() {
        ready += &format!(" tcp={a}");
    }
    if let Some(c) = &cluster {
        ready += &format!(" node={}", c.id);
    }
    println!("{ready}");

    let name = rt.block_on(async {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    });
    server.shutdown();
    if let Some(c) = &cluster {
        (c.leave)();
    }
    println!("stopped on {name} with {} handles open", table.len());
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("admin_server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // First, before the slow parts (the Argon2 hash, the simulated opens, the
    // certificate), so whoever started it sees it is alive.
    eprintln!(
        "admin_server: starting: {} simulated handles{}",
        args.handles.unwrap_or(DEFAULT_HANDLES),
        if args.tcp.is_some() && args.cert.is_none() { ", a self-signed certificate" } else { "" }
    );
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("admin_server: {e}");
            ExitCode::FAILURE
        }
    }
}
