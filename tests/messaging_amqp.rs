//! The private RabbitMQ nodes of `common::rabbitmq` (Debian's
//! rabbitmq-server).

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::Instant;

use common::rabbitmq::RabbitMq;

/// The names epmd on `port` knows, as `epmd -names` prints them.
fn epmd_names(port: u16) -> String {
    let out = Command::new("epmd")
        .args(["-port", &port.to_string(), "-names"])
        .output()
        .expect("run epmd -names");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn two_private_nodes_start_in_parallel_and_leave_nothing_behind() {
    let begin = Instant::now();
    let a = std::thread::spawn(RabbitMq::start);
    let b = std::thread::spawn(RabbitMq::start);
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    eprintln!(
        "two nodes in parallel: {:?} and {:?} each, {:?} in all",
        a.started_in(),
        b.started_in(),
        begin.elapsed()
    );
    assert_ne!(a.port(), b.port());
    assert_ne!(a.epmd_port(), b.epmd_port());
    // Each node is registered with its own epmd, and only there.
    let short = |n: &RabbitMq| n.node().split('@').next().unwrap().to_owned();
    let (names_a, names_b) = (epmd_names(a.epmd_port()), epmd_names(b.epmd_port()));
    assert!(
        names_a.contains(&format!("name {} ", short(&a))),
        "{names_a}"
    );
    assert!(!names_a.contains(&short(&b)), "{names_a}");
    assert!(
        names_b.contains(&format!("name {} ", short(&b))),
        "{names_b}"
    );
    // Each has a cookie of its own, in its own HOME.
    let cookie = |n: &RabbitMq| std::fs::read(n.dir().join("home/.erlang.cookie")).unwrap();
    assert_ne!(cookie(&a), cookie(&b));

    let pid_file = a.dir().join(format!("mnesia/{}.pid", a.node()));
    let beam = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(alive(&beam), "beam.smp {beam} of {}", a.node());
    let (port, epmd_port, dir) = (a.port(), a.epmd_port(), a.dir().to_owned());
    drop(a);
    assert!(!alive(&beam), "beam.smp {beam} still runs after the drop");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "AMQP port still open"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", epmd_port)).is_err(),
        "epmd still listens"
    );
    assert!(!dir.exists(), "{} not removed", dir.display());
    // The other node is untouched.
    assert!(TcpStream::connect(("127.0.0.1", b.port())).is_ok());
}
