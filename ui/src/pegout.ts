// The peg-out panel. Whether the node has peg-out is asked, not assumed: a node without it
// answers `getpegoutstatus` with "method not found", and the panel says plainly that peg-out
// is not available on this node. A node with it gets a tracker for a request (the hash of the
// Alys transaction that called Bridge.requestPegOut) through getpegoutstatus. The request
// form (Bitcoin address and amount checked for the chain's network, Bridge.requestPegOut sent
// through the wallet) mounts into this panel beside the tracker.

import { button, el, field, setFieldError, setStatus } from './dom';
import { userMessage } from './errors';
import { METHOD_NOT_FOUND, NodeError, type NodeRpc } from './rpc';

export type PegOutSupport = 'available' | 'unavailable' | 'unknown';

const PROBE_HASH = `0x${'00'.repeat(32)}`;
const POLL_MS = 3000;

/** Asks the node whether it serves getpegoutstatus. */
export async function pegOutSupport(rpc: NodeRpc): Promise<PegOutSupport> {
  try {
    await rpc.call('getpegoutstatus', [PROBE_HASH]);
    return 'available';
  } catch (e) {
    if (!(e instanceof NodeError)) return 'unknown';
    if (e.kind === 'rpc') return e.code === METHOD_NOT_FOUND ? 'unavailable' : 'available';
    return e.kind === 'refused' ? 'unavailable' : 'unknown';
  }
}

/** A peg-out request's state (DESIGN: requested → proposed → signed → broadcast → confirmed, or refunded). */
interface PegOutRequest {
  state?: string;
  payoutTxid?: string | null;
  reason?: string | null;
  confirmations?: number | null;
}

/** What getpegoutstatus answers: the requests the transaction made (one per Bridge call). */
interface PegOutStatus {
  requests?: PegOutRequest[];
}

function describe(status: PegOutStatus): { state: string; text: string; final: boolean } {
  const s: PegOutRequest = status.requests?.[0] ?? {};
  const txid = s.payoutTxid ?? null;
  switch (s.state) {
    case 'requested':
      return { state: 'waiting', text: 'Requested: the federation will include it in its next payout.', final: false };
    case 'proposed':
      return { state: 'waiting', text: 'Proposed: the payout transaction is being signed by the federation.', final: false };
    case 'signed':
      return { state: 'waiting', text: 'Signed by the federation; about to be broadcast to Bitcoin.', final: false };
    case 'broadcast':
      return { state: 'seen', text: `Broadcast to Bitcoin${txid ? ` in transaction ${txid}` : ''}; waiting for confirmations.`, final: false };
    case 'confirmed':
      return { state: 'confirmed', text: `Confirmed on Bitcoin${txid ? `: transaction ${txid}` : ''}.`, final: true };
    case 'refund-due':
      return { state: 'waiting', text: `To be refunded${s.reason ? ` (${s.reason})` : ''}: the next block returns the amount to your Alys account.`, final: false };
    case 'refunded':
      return { state: 'rejected', text: `Refunded${s.reason ? ` (${s.reason})` : ''}: the Bitcoin address could not be paid, so the amount was returned to your Alys account.`, final: true };
    default:
      return { state: 'waiting', text: 'The node reports a state this page does not know yet.', final: false };
  }
}

export class PegOut {
  private followed: string | null = null;
  private timer: number | undefined;

  constructor(private readonly rpc: NodeRpc) {}

  async mount(): Promise<void> {
    const status = el('pegout-status');
    let support = await pegOutSupport(this.rpc);
    while (support === 'unknown') {
      setStatus(status, 'error', 'The node cannot be reached right now; this page checks again in a moment whether it supports peg-out.');
      await new Promise((r) => window.setTimeout(r, POLL_MS));
      support = await pegOutSupport(this.rpc);
    }
    if (support === 'unavailable') {
      setStatus(
        status,
        'unavailable',
        'Peg-out is not available on this node yet: it does not track peg-out requests, so this page cannot send BTC back to Bitcoin. Peg in works as usual.',
      );
      return;
    }
    setStatus(status, 'ok', 'Follow a peg-out request by the hash of the Alys transaction that made it.');
    el('pegout-tracker').hidden = false;
    const input = field('pegout-tx');
    button('pegout-follow').addEventListener('click', () => this.follow(input.value));
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.follow(input.value);
    });
  }

  private follow(text: string): void {
    const hash = text.trim().toLowerCase();
    const input = field('pegout-tx');
    if (!/^0x[0-9a-f]{64}$/.test(hash)) {
      setFieldError(el('pegout-error'), input, 'A transaction hash is 0x followed by 64 hexadecimal characters.');
      return;
    }
    setFieldError(el('pegout-error'), input, '');
    this.followed = hash;
    window.clearTimeout(this.timer);
    void this.poll(hash);
  }

  private async poll(hash: string): Promise<void> {
    let d: { state: string; text: string; final: boolean };
    try {
      d = describe(await this.rpc.call<PegOutStatus>('getpegoutstatus', [hash]));
    } catch (e) {
      d =
        e instanceof NodeError && e.kind === 'rpc'
          ? { state: 'waiting', text: 'The node knows no peg-out request made by this transaction (yet).', final: false }
          : { state: 'error', text: userMessage(e), final: false };
    }
    if (this.followed !== hash) return;
    setStatus(el('pegout-result'), d.state, d.text);
    if (!d.final) this.timer = window.setTimeout(() => void this.poll(hash), POLL_MS);
  }
}
