// The peg-out panel. Whether the node has peg-out is asked, not assumed: a node without it
// answers `getpegoutstatus` with "method not found", and the panel says plainly that peg-out
// is not available on this node. A node with it gets:
// - the request form: the Bitcoin address checked for the federation's network and the amount
//   checked against the minimum (whole sats), both before anything reaches the wallet; the fee
//   share at the node's current fee rate; then Bridge.requestPegOut sent through the wallet;
// - a tracker of a request (the hash of the Alys transaction that made it) through
//   getpegoutstatus, to "confirmed" with the payout's Bitcoin txid;
// - the connected account's peg-outs (listpegouts), in the history card beside its deposits.

import { createClient, encodeFunctionData, http, numberToHex, stringToHex, type Client } from 'viem';
import { getBalance, getTransactionReceipt } from 'viem/actions';
import { checkBitcoinAddress } from './btcaddress';
import { button, el, field, setFieldError, setStatus } from './dom';
import { userMessage, walletMessage } from './errors';
import { formatBtc, formatSats, networkName, parseBtc, shortHex } from './format';
import {
  METHOD_NOT_FOUND,
  NodeError,
  type NodeRpc,
  type PegOutRecord,
  type PegOutStatus,
  type PegOutSummary,
} from './rpc';
import type { TargetChain, Wallets } from './wallet';

export type PegOutSupport = 'available' | 'unavailable' | 'unknown';

/** The Bridge contract, predeployed by every Alys genesis. */
export const BRIDGE_ADDRESS = '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB';
/** Wei per satoshi: the EVM side counts BTC with 18 decimals, Bitcoin with 8. */
export const WEI_PER_SAT = 10_000_000_000n;

const BRIDGE_ABI = [
  {
    type: 'function',
    name: 'requestPegOut',
    stateMutability: 'payable',
    inputs: [{ name: 'bitcoinAddress', type: 'bytes' }],
    outputs: [],
  },
] as const;

const PROBE_HASH = `0x${'00'.repeat(32)}`;
const POLL_MS = 3000;
const HISTORY_POLL_MS = 10_000;

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

interface Described {
  state: string;
  text: string;
  final: boolean;
}

/** A request's state in words (DESIGN: requested → proposed → signed → broadcast → confirmed, or refunded). */
export function describeRequest(s: Partial<PegOutRecord>, required: number): Described {
  const txid = s.payoutTxid ?? null;
  const amount = s.sats != null ? `${formatBtc(s.sats)} BTC` : 'The amount';
  switch (s.state) {
    case 'requested':
      return { state: 'waiting', text: `Requested: ${amount} burned on Alys; the federation includes it in its next payout.`, final: false };
    case 'proposed':
      return { state: 'waiting', text: `Proposed in a payout: the federation is signing Bitcoin transaction ${txid ?? ''}.`, final: false };
    case 'signed':
      return { state: 'waiting', text: 'Signed by the federation; about to be broadcast to Bitcoin.', final: false };
    case 'broadcast':
      return {
        state: 'seen',
        text: `Broadcast to Bitcoin${txid ? ` in transaction ${txid}` : ''}; confirmed after ${required} Bitcoin blocks.`,
        final: false,
      };
    case 'confirmed':
      return {
        state: 'confirmed',
        text: `Confirmed on Bitcoin: ${amount} less its fee share paid to ${s.bitcoinAddress ?? 'your address'} in transaction ${txid ?? '?'}.`,
        final: true,
      };
    case 'refund-due':
      return { state: 'waiting', text: `To be refunded${s.reason ? ` (${s.reason})` : ''}: the next block returns the amount to your Alys account.`, final: false };
    case 'refunded':
      return { state: 'rejected', text: `Refunded${s.reason ? ` (${s.reason})` : ''}: the Bitcoin address could not be paid, so the amount was returned to your Alys account.`, final: true };
    default:
      return { state: 'waiting', text: 'The node reports a state this page does not know yet.', final: false };
  }
}

function stateLabel(state: string): string {
  switch (state) {
    case 'requested':
    case 'proposed':
    case 'signed':
      return 'in a payout being prepared';
    case 'broadcast':
      return 'broadcast, confirming';
    case 'confirmed':
      return 'confirmed';
    case 'refund-due':
      return 'being refunded';
    case 'refunded':
      return 'refunded';
    default:
      return state;
  }
}

const NOT_YET =
  'The node knows no peg-out request made by this transaction yet: a request shows here once its transaction is in an Alys block.';

export interface PegOutContext {
  rpc: NodeRpc;
  wallets: Wallets;
  target: TargetChain;
  /** The federation's Bitcoin network, as the node names it. */
  network: string;
  requiredConfirmations: number;
}

export class PegOut {
  private followed: string | null = null;
  private timer: number | undefined;
  private summary: PegOutSummary = {};
  private readonly client: Client | null;
  private sending = false;

  constructor(private readonly ctx: PegOutContext) {
    this.client = ctx.target.rpcUrl ? createClient({ transport: http(ctx.target.rpcUrl) }) : null;
  }

  async mount(): Promise<void> {
    const status = el('pegout-status');
    let support = await pegOutSupport(this.ctx.rpc);
    while (support === 'unknown') {
      setStatus(status, 'error', 'The node cannot be reached right now; this page checks again in a moment whether it supports peg-out.');
      await new Promise((r) => window.setTimeout(r, POLL_MS));
      support = await pegOutSupport(this.ctx.rpc);
    }
    if (support === 'unavailable') {
      setStatus(
        status,
        'unavailable',
        'Peg-out is not available on this node yet: it does not track peg-out requests, so this page cannot send BTC back to Bitcoin. Peg in works as usual.',
      );
      el('pegout-history-note').textContent = 'This node does not track peg-outs.';
      return;
    }
    await this.refreshSummary();
    setStatus(status, 'ok', `Peg-outs are paid on ${networkName(this.ctx.network)}.`);
    this.mountForm();
    this.mountTracker();
    void this.refreshHistory();
    window.setInterval(() => void this.refreshHistory(), HISTORY_POLL_MS);
  }

  /** The wallet's account changed: its peg-outs. */
  onAccount(): void {
    void this.refreshHistory();
  }

  // ---- the form --------------------------------------------------------------------------

  private mountForm(): void {
    el('pegout-form').hidden = false;
    el('bridge-address').textContent = BRIDGE_ADDRESS;
    el('pegout-address-hint').textContent = `An address on ${networkName(this.ctx.network)}: bech32 (segwit), bech32m (taproot) or base58 (legacy, P2SH).`;
    this.renderMinimum();
    const address = field('pegout-address');
    const amount = field('pegout-amount');
    // As on the peg-in form: errors show once the user leaves a field; typing only clears them.
    address.addEventListener('input', () => this.checkAddress(false));
    address.addEventListener('change', () => this.checkAddress(true));
    amount.addEventListener('input', () => this.checkAmount(false));
    amount.addEventListener('change', () => this.checkAmount(true));
    button('pegout-send').addEventListener('click', () => void this.send());
    this.renderFee();
  }

  private minimum(): bigint | null {
    return this.summary.minPegOutSats != null ? BigInt(this.summary.minPegOutSats) : null;
  }

  private renderMinimum(): void {
    const min = this.minimum();
    el('pegout-amount-hint').textContent =
      min != null
        ? `Minimum ${formatBtc(min)} BTC (${formatSats(min)}), in whole sats: at most 8 decimal places.`
        : 'In whole sats: at most 8 decimal places.';
  }

  private async refreshSummary(): Promise<void> {
    this.summary = await this.ctx.rpc.call<PegOutSummary>('getpegoutsummary').catch(() => this.summary);
  }

  /** The checked address (and its scriptPubKey length), or null with the error shown if `show`. */
  private checkAddress(show: boolean): { address: string; scriptBytes: number } | null {
    const input = field('pegout-address');
    const text = input.value.trim();
    let error = '';
    let result: { address: string; scriptBytes: number } | null = null;
    if (text !== '') {
      const check = checkBitcoinAddress(text, this.ctx.network, networkName(this.ctx.network));
      if (check.ok) result = check;
      else error = check.error;
    } else if (show) {
      error = 'Enter the Bitcoin address to pay.';
    }
    if (show || !error) setFieldError(el('pegout-address-error'), input, error);
    this.renderFee();
    return result;
  }

  /** The amount in sats, or null with the error shown if `show`. */
  private checkAmount(show: boolean): bigint | null {
    const input = field('pegout-amount');
    const text = input.value.trim();
    const min = this.minimum();
    let error = '';
    let sats: bigint | null = null;
    if (text === '') {
      if (show) error = 'Enter the amount to send back to Bitcoin, in BTC.';
    } else {
      const parsed = parseBtc(text);
      if (parsed === null) {
        error = /^\d*[.,]\d{9,}$/.test(text)
          ? 'A peg-out is a whole number of sats: use at most 8 decimal places (1 sat is 0.00000001 BTC).'
          : 'Enter the amount in BTC, for example 0.001 (at most 8 decimal places).';
      } else if (min != null && parsed < min) {
        error = `The minimum peg-out is ${formatBtc(min)} BTC (${formatSats(min)}). The Bridge refuses a smaller amount.`;
      } else if (parsed === 0n) {
        error = 'Enter an amount above zero.';
      } else {
        sats = parsed;
      }
    }
    if (show || !error) setFieldError(el('pegout-amount-error'), input, error);
    this.renderFee();
    return sats;
  }

  /** The fee share of the request in the form (or of a typical one) at the node's fee rate. */
  private renderFee(): void {
    const fee = this.summary.singleRequestFee;
    const rate = this.summary.feeRate;
    const target = el('pegout-fee');
    if (!fee || rate == null) {
      target.textContent = 'The node does not publish a fee estimate: the fee share is known once the payout is built.';
      return;
    }
    const address = checkBitcoinAddress(field('pegout-address').value, this.ctx.network, '');
    // The estimate is for an output script of fee.outputScriptBytes; each byte more or less
    // is one vbyte more or less.
    const scriptBytes = address.ok ? address.scriptBytes : fee.outputScriptBytes;
    const share = BigInt(Math.max(0, fee.vsize - fee.outputScriptBytes + scriptBytes) * rate);
    const sats = parseBtc(field('pegout-amount').value.trim());
    target.dataset.feeSats = share.toString();
    const receive =
      sats != null && sats > share
        ? ` You would receive about ${formatBtc(sats - share)} BTC (${formatSats(sats - share)}).`
        : '';
    target.textContent = `At the current fee rate of ${rate} sat/vB, a payout paying only your request costs ${formatSats(share)}, taken from the amount paid.${receive} With other requests in the same payout, your share is their fee split in proportion to the amounts.`;
  }

  private async send(): Promise<void> {
    if (this.sending) return;
    const error = el('pegout-send-error');
    error.textContent = '';
    const address = this.checkAddress(true);
    const sats = this.checkAmount(true);
    if (!address || sats === null) {
      error.textContent = 'Correct the fields above first: nothing was sent.';
      return;
    }
    const state = this.ctx.wallets.state();
    if (state.kind !== 'connected') {
      error.textContent = 'Connect a wallet first (above): the peg-out is sent from your wallet\'s account.';
      return;
    }
    if (state.chainId !== this.ctx.target.chainId) {
      error.textContent = `Your wallet is on another network (chain ${state.chainId}). Switch it to ${this.ctx.target.name} first with the button above; nothing was sent.`;
      return;
    }
    this.sending = true;
    button('pegout-send').disabled = true;
    try {
      // The node must be there to follow the request: ask it first (and take its latest
      // minimum and fee rate), so that nothing is signed while it is away.
      try {
        this.summary = await this.ctx.rpc.call<PegOutSummary>('getpegoutsummary');
      } catch (e) {
        error.textContent = `${userMessage(e)} Nothing was sent.`;
        return;
      }
      this.renderMinimum();
      if (this.checkAmount(true) === null) {
        error.textContent = 'Correct the fields above first: nothing was sent.';
        return;
      }
      const wei = sats * WEI_PER_SAT;
      if (this.client) {
        const balance = await getBalance(this.client, { address: state.account }).catch(() => null);
        if (balance !== null && balance < wei) {
          error.textContent = `The amount is more than your balance of ${formatBtc(balance / WEI_PER_SAT)} BTC: nothing was sent.`;
          return;
        }
      }
      const data = encodeFunctionData({
        abi: BRIDGE_ABI,
        functionName: 'requestPegOut',
        args: [stringToHex(address.address)],
      });
      setStatus(el('pegout-result'), 'waiting', 'Waiting for your approval in your wallet…');
      let hash: string;
      try {
        hash = String(
          await state.wallet.provider.request({
            method: 'eth_sendTransaction',
            params: [{ from: state.account, to: BRIDGE_ADDRESS, data, value: numberToHex(wei) }],
          }),
        );
      } catch (e) {
        error.textContent = `${walletMessage(e)} Nothing was sent.`;
        setStatus(el('pegout-result'), 'idle', 'No peg-out followed yet.');
        return;
      }
      field('pegout-tx').value = hash;
      this.follow(hash);
      void this.refreshHistory();
    } finally {
      this.sending = false;
      button('pegout-send').disabled = false;
    }
  }

  // ---- the tracker -------------------------------------------------------------------------

  private mountTracker(): void {
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
    let d: Described;
    try {
      const status = await this.ctx.rpc.call<PegOutStatus>('getpegoutstatus', [hash]);
      d = describeRequest(status.requests?.[0] ?? {}, this.ctx.requiredConfirmations);
    } catch (e) {
      d = e instanceof NodeError && e.kind === 'rpc' ? await this.notRecorded(hash) : { state: 'error', text: userMessage(e), final: false };
    }
    if (this.followed !== hash) return;
    setStatus(el('pegout-result'), d.state, d.text);
    if (!d.final) this.timer = window.setTimeout(() => void this.poll(hash), POLL_MS);
  }

  /** No request recorded for `hash`: a transaction that failed says so, anything else waits. */
  private async notRecorded(hash: string): Promise<Described> {
    if (this.client) {
      const receipt = await getTransactionReceipt(this.client, { hash: hash as `0x${string}` }).catch(() => null);
      if (receipt?.status === 'reverted') {
        return {
          state: 'rejected',
          text: 'This transaction failed on Alys (the Bridge refused it), so nothing was burned and no peg-out was requested.',
          final: true,
        };
      }
    }
    return { state: 'waiting', text: NOT_YET, final: false };
  }

  // ---- the account's peg-outs --------------------------------------------------------------

  private async refreshHistory(): Promise<void> {
    const account = this.ctx.wallets.account();
    const note = el('pegout-history-note');
    const list = el('pegout-history');
    if (!account) {
      list.replaceChildren();
      note.textContent = 'Connect a wallet to see the peg-outs of its account.';
      return;
    }
    let records: PegOutRecord[];
    try {
      records = await this.ctx.rpc.call<PegOutRecord[]>('listpegouts', [{ sender: account }]);
    } catch {
      // The node is away: the list keeps what it showed; the node status line says why.
      return;
    }
    if (this.ctx.wallets.account() !== account) return;
    note.textContent =
      records.length === 0
        ? `No peg-out from ${account} on this chain yet.`
        : `Peg-outs from ${account}, newest first, as the chain records them.`;
    list.replaceChildren(...[...records].reverse().map((r) => this.historyItem(r)));
  }

  private historyItem(r: PegOutRecord): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.hash = r.evmTxHash;
    const code = document.createElement('code');
    code.textContent = shortHex(r.evmTxHash, 8);
    code.title = r.evmTxHash;
    const state = document.createElement('span');
    state.className = 'state';
    state.dataset.state = r.state;
    state.textContent = stateLabel(r.state);
    const what = document.createElement('span');
    what.textContent = `${formatBtc(r.sats)} BTC to ${r.bitcoinAddress.length > 24 ? `${r.bitcoinAddress.slice(0, 14)}…${r.bitcoinAddress.slice(-6)}` : r.bitcoinAddress}`;
    what.title = r.bitcoinAddress;
    const show = document.createElement('button');
    show.type = 'button';
    show.textContent = 'Show';
    show.setAttribute('aria-label', `Show peg-out ${r.evmTxHash}`);
    show.addEventListener('click', () => {
      button('tab-pegout').click();
      field('pegout-tx').value = r.evmTxHash;
      this.follow(r.evmTxHash);
    });
    li.append(code, state, what, show);
    return li;
  }
}
