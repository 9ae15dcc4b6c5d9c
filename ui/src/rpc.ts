// The node's JSON-RPC, called from the browser without credentials: only the read-only peg
// methods answer that way (getdepositaddress, getpeginstatus, getpegoutstatus, getfederation,
// getchainspec). Failures become NodeErrors whose message is a sentence for the user.

import { UserError } from './errors';

export type NodeErrorKind = 'unreachable' | 'busy' | 'refused' | 'rpc';

/** A node call that failed; `message` is for the user, `code` the JSON-RPC code if any. */
export class NodeError extends UserError {
  constructor(
    readonly kind: NodeErrorKind,
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** JSON-RPC code of an unknown method. */
export const METHOD_NOT_FOUND = -32601;
/** The node's code for "not found" (as Bitcoin Core's "invalid address or key"). */
export const NOT_FOUND = -5;

const TIMEOUT_MS = 8000;

export class NodeRpc {
  private nextId = 1;

  constructor(readonly url: string) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params }),
        signal: controller.signal,
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      throw new NodeError(
        'unreachable',
        `The node cannot be reached at ${this.url}. Check that it is running; this page keeps trying.`,
      );
    } finally {
      window.clearTimeout(timer);
    }
    if (response.status === 429) {
      throw new NodeError('busy', 'The node is busy with too many requests; this page tries again in a moment.');
    }
    if (response.status === 401 || response.status === 403) {
      throw new NodeError(
        'refused',
        'The node refused this page\'s request: it does not serve the peg page to this address.',
      );
    }
    let body: { result?: T; error?: { code?: number; message?: string } };
    try {
      body = await response.json();
    } catch {
      throw new NodeError('rpc', 'The node sent an answer this page does not understand.');
    }
    if (body.error) {
      console.debug(`node RPC ${method} error`, body.error);
      throw new NodeError('rpc', 'The node could not answer this request.', body.error.code);
    }
    return body.result as T;
  }
}

/** `getfederation`. */
export interface Federation {
  address: string;
  network: string;
  scriptPubKey: string;
  threshold: number;
  keys: string[];
  minPegInSats: number;
  requiredConfirmations?: number;
}

/** `getchainspec` (the fields the page reads). */
export interface ChainSpecAnswer {
  specHash: string;
  spec: { chainId: number; requiredBtcConfirmations?: number | null };
}

/** `getpeginstatus`. */
export interface PegInStatus {
  txid: string;
  state: 'seen' | 'confirmed' | 'minted' | 'rejected' | 'dropped' | 'reverted';
  reason?: string;
  sats: number;
  recipient: string | null;
  block: { height: number; hash: string } | null;
  confirmations: number;
  requiredConfirmations?: number;
  mintedIn: string | null;
  mintedInBlockNumber?: number | null;
  bitcoinState?: string;
}

/** One peg-out request, as `getpegoutstatus` and `listpegouts` give it. */
export interface PegOutRecord {
  evmTxHash: string;
  logIndex: number;
  sender: string;
  bitcoinAddress: string;
  sats: number;
  state: 'requested' | 'proposed' | 'signed' | 'broadcast' | 'confirmed' | 'refund-due' | 'refunded' | string;
  payoutTxid?: string;
  reason?: string;
  confirmations?: number;
}

/** `getpegoutstatus`: the requests one transaction made (one per Bridge call). */
export interface PegOutStatus {
  evmTxHash: string;
  requests: PegOutRecord[];
}

/** `getpegoutsummary` (the fields the page reads). */
export interface PegOutSummary {
  minPegOutSats?: number;
  feeRate?: number;
  /** The fee share of a request paid alone, for an output script of `outputScriptBytes`. */
  singleRequestFee?: { vsize: number; sats: number; outputScriptBytes: number } | null;
}
