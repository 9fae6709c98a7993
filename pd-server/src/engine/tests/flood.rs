//! Hostile clients: per-link caps on new bindings, renewals unaffected,
//! no state grows from Solicits.

use super::*;
use pd_core::wire::status;

fn capped(rate: u32, max: u64) -> Server {
    server(&format!(
        "{CONFIG}\n[limits]\nnew-bindings-per-second = {rate}\nmax-bindings-per-link = {max}\n"
    ))
}

fn request(s: &mut Server, now: Timestamp, n: u32) -> Message {
    let mut m = msg(MsgType::Request, 1, vec![ia(1, &[])]);
    m.client_id = Some(Duid::en(9, &n.to_be_bytes()));
    sent(&s.handle_message(now, &rx(1), env(m)))
}

fn refused(m: &Message) -> bool {
    m.ia_pd[0]
        .status
        .as_ref()
        .is_some_and(|s| s.code == status::NO_PREFIX_AVAIL)
}

#[test]
fn new_bindings_per_second_per_link() {
    let mut s = capped(10, 0);
    let t = Timestamp::from_secs(100);
    let granted_now = (0..50)
        .filter(|n| !refused(&request(&mut s, t, *n)))
        .count();
    assert_eq!(granted_now, 10);
    assert_eq!(s.refused(), 40);
    // Legitimate renewals keep working while the link is capped.
    let first = {
        let mut m = msg(MsgType::Renew, 1, vec![ia(1, &[])]);
        m.client_id = Some(Duid::en(9, &0u32.to_be_bytes()));
        sent(&s.handle_message(t, &rx(1), env(m)))
    };
    assert!(!refused(&first) && first.ia_pd[0].prefixes[0].valid == 7200);
    // Another interface has its own budget.
    let mut r2 = rx(2);
    r2.iface = Arc::from("eth9");
    let mut m = msg(MsgType::Request, 2, vec![ia(1, &[])]);
    m.client_id = Some(Duid::en(9, &999u32.to_be_bytes()));
    assert!(!refused(&sent(&s.handle_message(t, &r2, env(m)))));
    // Half a second later, five more.
    let later = Timestamp::from_millis(100_500);
    let more = (100..150)
        .filter(|n| !refused(&request(&mut s, later, *n)))
        .count();
    assert_eq!(more, 5);
    assert_eq!(s.active_count(), 16);
}

#[test]
fn max_bindings_per_link_and_release_makes_room() {
    let mut s = capped(0, 3);
    let t = Timestamp::ZERO;
    let got: Vec<bool> = (0..5).map(|n| refused(&request(&mut s, t, n))).collect();
    assert_eq!(got, vec![false, false, false, true, true]);
    let mut rel = msg(MsgType::Release, 1, vec![ia(1, &[])]);
    rel.client_id = Some(Duid::en(9, &0u32.to_be_bytes()));
    let _ = s.handle_message(t, &rx(1), env(rel));
    assert!(!refused(&request(&mut s, t, 10)));
    assert!(refused(&request(&mut s, t, 11)));
}

#[test]
fn solicit_flood_creates_no_state() {
    let mut s = server(CONFIG);
    for n in 0..20_000u32 {
        let mut m = msg(MsgType::Solicit, 1, vec![ia(n, &[])]);
        m.client_id = Some(Duid::en(9, &n.to_be_bytes()));
        let adv = sent(&s.handle_message(Timestamp::from_millis(u64::from(n)), &rx(1), env(m)));
        assert_eq!(adv.msg_type, MsgType::Advertise);
    }
    assert_eq!(s.leases().count(), 0);
    assert_eq!(s.active_count(), 0);
}
