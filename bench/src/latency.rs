//! Parse a perfdhcp `-6 -x t` report: packet counts per exchange and the
//! per-exchange timestamps, and derive the 4-way (Solicit → Reply) latency.
//!
//! perfdhcp prints SOLICIT-ADVERTISE and REQUEST-REPLY timestamps as two
//! separate lists with no client identity. perfdhcp sends each Request as
//! soon as it has processed the Advertise, so each Request (in send order)
//! is paired with the earliest unpaired Advertise received before it;
//! Advertises older than `STALE` seconds at that point had their Request
//! lost and are skipped. 4-way latency = Reply received − Solicit sent.

use std::io::Read;

use anyhow::{bail, Context};

/// An Advertise older than this when a Request leaves was not its trigger.
const STALE: f64 = 0.05;

#[derive(Default, Debug)]
struct Section {
    sent: u64,
    received: u64,
    times: Vec<(f64, f64)>,
}

/// Read the report from `path` ("-" for stdin) and print `key=value` lines.
pub fn run(path: &str) -> anyhow::Result<()> {
    let mut text = String::new();
    if path == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    }
    let (sa, rr) = parse(&text)?;
    let pairs = pair(&sa.times, &rr.times);
    let mut four: Vec<f64> = pairs.iter().map(|(s, r)| (r - s) * 1e3).collect();
    let mut sa_d: Vec<f64> = sa.times.iter().map(|(s, r)| (r - s) * 1e3).collect();
    let mut rr_d: Vec<f64> = rr.times.iter().map(|(s, r)| (r - s) * 1e3).collect();
    print_report(
        [sa.sent, sa.received, rr.sent, rr.received],
        pairs.len(),
        &mut [("", &mut four), ("sa_", &mut sa_d), ("rr_", &mut rr_d)],
    );
    Ok(())
}

fn parse(text: &str) -> anyhow::Result<(Section, Section)> {
    let (mut sa, mut rr) = (Section::default(), Section::default());
    let mut cur: Option<&mut Section> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("***Statistics for: SOLICIT-ADVERTISE")
            || l.starts_with("***Timestamps for packets: SOLICIT-ADVERTISE")
        {
            cur = Some(&mut sa);
        } else if l.starts_with("***Statistics for: REQUEST-REPLY")
            || l.starts_with("***Timestamps for packets: REQUEST-REPLY")
        {
            cur = Some(&mut rr);
        } else if l.starts_with("***") {
            cur = None;
        } else if let Some(s) = cur.as_deref_mut() {
            if let Some(v) = l.strip_prefix("sent packets:") {
                s.sent = v.trim().parse().context("sent packets")?;
            } else if let Some(v) = l.strip_prefix("received packets:") {
                s.received = v.trim().parse().context("received packets")?;
            } else if let Some(v) = l.strip_prefix("sent / received:") {
                let mut it = v.split('/').map(|x| x.trim().parse::<f64>());
                match (it.next(), it.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => s.times.push((a, b)),
                    _ => bail!("bad timestamp line: {l}"),
                }
            }
        }
    }
    if sa.sent == 0 {
        bail!("no SOLICIT-ADVERTISE statistics in the perfdhcp report");
    }
    Ok((sa, rr))
}

/// (Solicit sent, Reply received) per paired exchange.
fn pair(sa: &[(f64, f64)], rr: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sa: Vec<(f64, f64)> = sa.to_vec();
    let mut rr: Vec<(f64, f64)> = rr.to_vec();
    sa.sort_by(|a, b| a.1.total_cmp(&b.1));
    rr.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(rr.len());
    let mut i = 0;
    for (req_sent, reply_recv) in rr {
        while sa.get(i).is_some_and(|a| a.1 < req_sent - STALE) {
            i += 1;
        }
        match sa.get(i) {
            Some(a) if a.1 <= req_sent + 1e-6 => {
                out.push((a.0, reply_recv));
                i += 1;
            }
            _ => {}
        }
    }
    out
}

/// Print a run's report as `key=value` lines (bench/lib.sh reads them):
/// the Solicit/Advertise/Request/Reply counts, loss, and for each named
/// latency series (ms; "" is the 4-way one) its median and p99, and the
/// 4-way maximum.
pub fn print_report(counts: [u64; 4], pairs: usize, series: &mut [(&str, &mut Vec<f64>)]) {
    let [sa_sent, sa_recv, rr_sent, rr_recv] = counts;
    let lost = sa_sent.saturating_sub(rr_recv);
    let loss_pct = if sa_sent == 0 {
        100.0
    } else {
        lost as f64 * 100.0 / sa_sent as f64
    };
    println!("sa_sent={sa_sent} sa_recv={sa_recv} rr_sent={rr_sent} rr_recv={rr_recv}");
    println!("lost={lost} loss_pct={loss_pct:.3} pairs={pairs}");
    let line: Vec<String> = series
        .iter_mut()
        .flat_map(|(name, v)| {
            let mut kv = vec![
                format!("{name}p50_ms={:.3}", pct(v, 50.0)),
                format!("{name}p99_ms={:.3}", pct(v, 99.0)),
            ];
            if name.is_empty() {
                kv.push(format!("max_ms={:.3}", pct(v, 100.0)));
            }
            kv
        })
        .collect();
    println!("{}", line.join(" "));
}

/// The `p`-th percentile (nearest rank) of `v`, or NaN when empty.
fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1)
        .copied()
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn pairs_requests_with_their_advertise_and_skips_lost_ones() {
        // Client A: S 0.000 → A 0.001, R 0.0011 → Rp 0.002.
        // Client B: S 0.0005 → A 0.0012, its Request is lost.
        // Client C: S 0.100 → A 0.101, R 0.1011 → Rp 0.103.
        let sa = [(0.0, 0.001), (0.0005, 0.0012), (0.100, 0.101)];
        let rr = [(0.1011, 0.103), (0.0011, 0.002)];
        let p = pair(&sa, &rr);
        assert_eq!(p, vec![(0.0, 0.002), (0.100, 0.103)]);
    }

    #[test]
    fn percentiles_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&mut v, 50.0), 50.0);
        assert_eq!(pct(&mut v, 99.0), 99.0);
        assert_eq!(pct(&mut v, 100.0), 100.0);
        assert!(pct(&mut [], 50.0).is_nan());
    }

    #[test]
    fn parses_a_report() {
        let text = "***Statistics for: SOLICIT-ADVERTISE***\nsent packets: 3\nreceived packets: 2\n\
                    ***Statistics for: REQUEST-REPLY***\nsent packets: 2\nreceived packets: 1\n\
                    ***Timestamps for packets: SOLICIT-ADVERTISE***\nsent / received: 000000.000048 / 000000.005489\n\
                    ***Timestamps for packets: REQUEST-REPLY***\nsent / received: 000000.005548 / 000000.006165\n";
        let (sa, rr) = parse(text).unwrap();
        assert_eq!((sa.sent, sa.received, rr.sent, rr.received), (3, 2, 2, 1));
        assert_eq!(pair(&sa.times, &rr.times), vec![(0.000048, 0.006165)]);
        assert!(parse("nothing").is_err());
    }
}
