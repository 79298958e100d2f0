//! `aj port`: who holds a port.

use aj_server::port::{self, PortReport, System};

use crate::cli::PortArgs;
use crate::Outcome;

pub fn run(args: PortArgs) -> anyhow::Result<Outcome> {
    let ports = if args.ports.is_empty() {
        vec![aj_server::DEFAULT_PORT]
    } else {
        args.ports
    };
    let reports = port::scan(&System::default(), &ports)?;
    if args.json {
        println!("{}", serde_json::to_string(&reports)?);
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_report(r);
        }
    }
    Ok(Outcome::Ok)
}

fn print_report(r: &PortReport) {
    let service = match &r.service {
        Some(s) => match &s.description {
            Some(d) => format!("  {} — {d}", s.name),
            None => format!("  {}", s.name),
        },
        None => String::new(),
    };
    println!("port {}{service}", r.port);
    if r.listeners.is_empty() {
        println!("{}  nothing listening (TCP or UDP, IPv4 or IPv6)", r.port);
    }
    for l in &r.listeners {
        println!("{l}");
    }
}
