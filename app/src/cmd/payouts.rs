//! The payout signer of a node with a Bitcoin node: it signs (as a federation member, with
//! `--bitcoin-key` or the dev key), collects the members' signatures from gossip, broadcasts
//! and tracks the payouts the peg-out ledger holds on the head's chain; and the bridge from its
//! view of a payout to `getpegoutstatus`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alys_bitcoin::CoreRpcClient;
use alys_consensus::{ChainStatus, Input};
use alys_federation::bitcoin::Txid;
use alys_federation::pegout::Ledger;
use alys_federation::signing::{
    MemberKey, PayoutProgress, PayoutSigner, PayoutSource, PayoutStatus, ProposedPayout,
    SignerConfig,
};
use alys_federation::SchnorrSigner;
use alys_primitives::ChainSpec;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

/// How often the signer looks at the ledger and the Bitcoin node.
const SIGNER_INTERVAL: Duration = Duration::from_millis(500);

/// The payouts proposed on the head's chain, from the ledger.
struct HeadPayouts {
    ledger: Arc<Ledger>,
    status: Arc<OnceLock<watch::Receiver<ChainStatus>>>,
}

impl PayoutSource for HeadPayouts {
    fn payouts(&self) -> Vec<ProposedPayout> {
        let Some(status) = self.status.get() else {
            return Vec::new();
        };
        let head = status.borrow().head_root;
        match self.ledger.payouts(&head) {
            Ok(list) => list
                .iter()
                .map(|(txid, record)| ProposedPayout::from_record(*txid, record))
                .collect(),
            Err(e) => {
                tracing::warn!(%head, error = %e, "no peg-out state for the head: no payouts to sign");
                Vec::new()
            }
        }
    }

    fn voided(&self) -> Vec<Txid> {
        let Some(status) = self.status.get() else {
            return Vec::new();
        };
        let head = status.borrow().head_root;
        self.ledger.voided_payouts(&head).unwrap_or_default()
    }
}

/// A node's payout signer, before and after the consensus service it talks through exists.
pub(super) struct Payouts {
    /// The signer (also the consensus service's peg-out signature sink).
    pub(super) signer: Arc<PayoutSigner>,
    inputs: Arc<OnceLock<mpsc::Sender<Input>>>,
    status: Arc<OnceLock<watch::Receiver<ChainStatus>>>,
}

impl Payouts {
    /// The signer over `ledger` and the Bitcoin node `rpc`, signing with `key` when it is a
    /// federation key.
    pub(super) fn new(
        spec: &ChainSpec,
        ledger: Arc<Ledger>,
        rpc: Arc<CoreRpcClient>,
        key: Option<SchnorrSigner>,
    ) -> Self {
        let federation = ledger.federation().clone();
        let member = key.and_then(|k| {
            let pk = k.public_key();
            let found = MemberKey::find(&federation, k);
            if found.is_none() {
                tracing::error!(key = %pk, "the Bitcoin key is not in federationBitcoinPubkeys: not signing payouts");
            }
            found
        });
        if let Some(m) = &member {
            tracing::info!(member = m.index, "signing peg-out payouts");
        }
        let inputs: Arc<OnceLock<mpsc::Sender<Input>>> = Arc::new(OnceLock::new());
        let status = Arc::new(OnceLock::new());
        let publish_to = inputs.clone();
        let publish = Arc::new(move |m| {
            let Some(tx) = publish_to.get() else { return };
            if let Err(e) = tx.try_send(Input::PublishPegOutSignatures(Box::new(m))) {
                tracing::warn!(error = %e, "peg-out signatures not published (consensus busy); sent again next round");
            }
        });
        let signer = Arc::new(PayoutSigner::new(
            federation,
            member,
            Arc::new(HeadPayouts {
                ledger,
                status: status.clone(),
            }),
            rpc,
            publish,
            SignerConfig::from_spec(spec),
        ));
        Self {
            signer,
            inputs,
            status,
        }
    }

    /// Connects the signer to the consensus service and starts it.
    pub(super) fn start(&self, inputs: mpsc::Sender<Input>, status: watch::Receiver<ChainStatus>) {
        let _ = self.inputs.set(inputs);
        let _ = self.status.set(status);
        tokio::spawn(self.signer.clone().run(SIGNER_INTERVAL));
    }

    /// The payout's progress as `getpegoutstatus` shows it.
    pub(super) fn progress(&self) -> alys_rpc::PayoutProgress {
        let signer = self.signer.clone();
        Arc::new(move |txid: &Txid| signer.progress(txid).and_then(|p| progress_json(&p)))
    }
}

/// `None` while only proposed; otherwise the state and what led to it: the members whose
/// signatures are held, the first accepted broadcast, the confirmations.
fn progress_json(p: &PayoutProgress) -> Option<Value> {
    let mut out = json!({ "signedBy": p.members, "broadcastAt": p.broadcast_at });
    let obj = out.as_object_mut()?;
    match &p.status {
        // A void payout's requests are back in the ledger's hands (requested, or in a newer
        // payout): the ledger's state is the one to show.
        PayoutStatus::Proposed | PayoutStatus::Voided => return None,
        PayoutStatus::Signed { .. } => {
            obj.insert("state".into(), json!("signed"));
        }
        PayoutStatus::Broadcast { at } => {
            obj.insert("state".into(), json!("broadcast"));
            obj.insert("broadcastAt".into(), json!(at));
        }
        PayoutStatus::Confirmed {
            confirmations,
            block,
        } => {
            obj.insert("state".into(), json!("confirmed"));
            obj.insert("confirmations".into(), json!(confirmations));
            obj.insert("bitcoinBlock".into(), json!(block.to_string()));
        }
    }
    Some(out)
}
