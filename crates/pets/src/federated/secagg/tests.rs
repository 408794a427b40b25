use super::*;
use crate::federated::ring;

/// When a party drops out of a round.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Drop {
    Never,
    BeforeKeys,
    BeforeShares,
    BeforeMasked,
    BeforeUnmask,
}

fn run(inputs: &[Vec<i64>], t: usize, drops: &[Drop]) -> Result<(Vec<i64>, Vec<u32>)> {
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: t,
        vector_len: inputs[0].len(),
    };
    config.check(inputs.len())?;
    let mut server = SecAggServer::new(config.clone());
    let mut clients = Vec::new();
    for (i, x) in inputs.iter().enumerate() {
        let (c, adv) = SecAggClient::new(config.clone(), i as u32 + 1, ring::encode(x, "t")?)?;
        if drops[i] != Drop::BeforeKeys {
            server.receive_keys(adv)?;
            clients.push((c, drops[i]));
        }
    }
    let roster = server.roster()?;
    for (c, d) in clients.iter_mut() {
        let msg = c.share_keys(&roster)?;
        if *d != Drop::BeforeShares {
            server.receive_shares(msg)?;
        }
    }
    let inboxes = server.inboxes()?;
    for (c, d) in clients.iter_mut() {
        if let Some(inbox) = inboxes.get(&c.party()) {
            let msg = c.masked_input(inbox)?;
            if *d != Drop::BeforeMasked {
                server.receive_masked(msg)?;
            }
        }
    }
    let survivors = server.survivors()?;
    for (c, d) in clients.iter_mut() {
        if survivors.parties.contains(&c.party()) && *d != Drop::BeforeUnmask {
            server.receive_unmask(c.unmask(&survivors)?)?;
        }
    }
    let (sum, u3) = server.finish()?;
    Ok((ring::decode(&sum), u3))
}

fn inputs(n: usize, m: usize) -> Vec<Vec<i64>> {
    (0..n)
        .map(|i| (0..m).map(|j| (i * 100 + j) as i64 - 50).collect())
        .collect()
}

fn expected(inputs: &[Vec<i64>], counted: &[usize]) -> Vec<i64> {
    let m = inputs[0].len();
    (0..m)
        .map(|j| counted.iter().map(|&i| inputs[i][j]).sum())
        .collect()
}

#[test]
fn without_dropouts_the_sum_is_exact() {
    let x = inputs(5, 17);
    let (sum, u3) = run(&x, 3, &[Drop::Never; 5]).unwrap();
    assert_eq!(sum, expected(&x, &[0, 1, 2, 3, 4]));
    assert_eq!(u3, vec![1, 2, 3, 4, 5]);
}

#[test]
fn dropouts_at_every_stage_leave_the_exact_sum_of_those_counted() {
    let x = inputs(9, 9);
    let drops = [
        Drop::Never,
        Drop::BeforeKeys,
        Drop::Never,
        Drop::BeforeShares,
        Drop::BeforeMasked,
        Drop::Never,
        Drop::BeforeUnmask,
        Drop::Never,
        Drop::Never,
    ];
    let (sum, u3) = run(&x, 5, &drops).unwrap();
    // Counted: those whose masked input arrived (party 7 dropped after sending it).
    assert_eq!(u3, vec![1, 3, 6, 7, 8, 9]);
    assert_eq!(sum, expected(&x, &[0, 2, 5, 6, 7, 8]));
}

#[test]
fn too_few_parties_abort_and_release_nothing() {
    let x = inputs(5, 4);
    let drops = [
        Drop::Never,
        Drop::BeforeMasked,
        Drop::BeforeMasked,
        Drop::BeforeMasked,
        Drop::Never,
    ];
    let e = run(&x, 3, &drops).unwrap_err();
    assert!(matches!(e, FederatedError::Aborted { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("2 masked inputs arrived; the round needs 3"),
        "{e}"
    );
    // Enough masked inputs but too few unmask responses.
    let drops = [
        Drop::Never,
        Drop::BeforeUnmask,
        Drop::BeforeUnmask,
        Drop::Never,
        Drop::Never,
    ];
    let (sum, _) = run(&x, 3, &drops).unwrap();
    assert_eq!(sum, expected(&x, &[0, 1, 2, 3, 4]));
    let drops = [
        Drop::Never,
        Drop::BeforeUnmask,
        Drop::BeforeUnmask,
        Drop::BeforeUnmask,
        Drop::Never,
    ];
    assert!(run(&x, 3, &drops).is_err());
}

#[test]
fn a_threshold_that_is_not_a_strict_majority_is_refused() {
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: 2,
        vector_len: 1,
    };
    let e = config.check(4).unwrap_err();
    assert!(
        e.to_string().contains("strict majority, from 3 to 4"),
        "{e}"
    );
    assert!(config.check(3).is_ok());
}

#[test]
fn replayed_late_foreign_and_malformed_messages_are_refused_and_change_nothing() {
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: 2,
        vector_len: 3,
    };
    let mut server = SecAggServer::new(config.clone());
    let (mut a, adv_a) = SecAggClient::new(config.clone(), 1, vec![1, 2, 3]).unwrap();
    let (mut b, adv_b) = SecAggClient::new(config.clone(), 2, vec![10, 20, 30]).unwrap();
    let (_c, adv_c) = SecAggClient::new(config.clone(), 3, vec![0, 0, 0]).unwrap();
    server.receive_keys(adv_a.clone()).unwrap();
    assert!(server.receive_keys(adv_a.clone()).is_err(), "replayed keys");
    let mut foreign = adv_b.clone();
    foreign.round = RoundId([9; 16]);
    let e = server.receive_keys(foreign).unwrap_err();
    assert!(e.to_string().contains("replay"), "{e}");
    let mut weak = adv_c.clone();
    weak.mask_pk = [0; 32];
    assert!(server.receive_keys(weak).is_err(), "low-order key");
    server.receive_keys(adv_b).unwrap();
    let roster = server.roster().unwrap();
    assert!(server.receive_keys(adv_c).is_err(), "late keys");
    let sa = a.share_keys(&roster).unwrap();
    let sb = b.share_keys(&roster).unwrap();
    server.receive_shares(sa.clone()).unwrap();
    assert!(server.receive_shares(sa).is_err(), "replayed shares");
    server.receive_shares(sb).unwrap();
    let inboxes = server.inboxes().unwrap();
    let ya = a.masked_input(&inboxes[&1]).unwrap();
    let yb = b.masked_input(&inboxes[&2]).unwrap();
    let mut long = ya.clone();
    long.masked.push(0);
    assert!(server.receive_masked(long).is_err(), "wrong length");
    server.receive_masked(ya.clone()).unwrap();
    let mut replay = ya.clone();
    replay.masked = vec![0, 0, 0];
    assert!(
        server.receive_masked(replay).is_err(),
        "second masked input"
    );
    server.receive_masked(yb).unwrap();
    let survivors = server.survivors().unwrap();
    server
        .receive_unmask(a.unmask(&survivors).unwrap())
        .unwrap();
    server
        .receive_unmask(b.unmask(&survivors).unwrap())
        .unwrap();
    let (sum, _) = server.finish().unwrap();
    assert_eq!(sum, vec![11, 22, 33]);
}

#[test]
fn a_client_refuses_a_survivor_list_that_would_unmask_a_dropped_party() {
    let x = inputs(3, 2);
    let config = SecAggConfig {
        round: RoundId::random(),
        threshold: 2,
        vector_len: 2,
    };
    let mut server = SecAggServer::new(config.clone());
    let mut clients: Vec<SecAggClient> = Vec::new();
    for (i, v) in x.iter().enumerate() {
        let (c, adv) =
            SecAggClient::new(config.clone(), i as u32 + 1, ring::encode(v, "t").unwrap()).unwrap();
        server.receive_keys(adv).unwrap();
        clients.push(c);
    }
    let roster = server.roster().unwrap();
    // Party 3 does not share its keys: it is not in U2.
    for c in clients.iter_mut().take(2) {
        server
            .receive_shares(c.share_keys(&roster).unwrap())
            .unwrap();
    }
    let _ = clients[2].share_keys(&roster).unwrap();
    let inboxes = server.inboxes().unwrap();
    assert!(!inboxes.contains_key(&3));
    let y1 = clients[0].masked_input(&inboxes[&1]).unwrap();
    let _ = y1;
    // A survivors list naming a party outside U2 is refused.
    let bad = Survivors {
        round: config.round,
        parties: vec![1, 2, 3],
    };
    assert!(clients[0].unmask(&bad).is_err());
}

// The aggregator's view of one trust (every message, for very different inputs):
// `federated::view_tests`.
