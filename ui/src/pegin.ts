// The peg-in panel: the account to credit (typed or from the wallet), the amount, the
// federation's deposit address (text, copy, QR), minimum and confirmations, the exact Bitcoin
// Core command and what any other wallet must do, then a deposit followed live through
// getpeginstatus, and the deposits followed in this browser.

import { getAddress, isAddress } from 'viem';
import { button, copyText, el, field, setFieldError } from './dom';
import { formatBtc, formatSats, networkName, parseBtc, coreSendCommand, shortHex } from './format';
import { History, type HistoryEntry } from './history';
import { drawQr } from './qr';
import { NodeError, NOT_FOUND, type Federation, type NodeRpc, type PegInStatus } from './rpc';
import { userMessage } from './errors';

/** How often a followed deposit is checked. */
const POLL_MS = 2000;
/** How often the remembered deposits that are not final are checked. */
const HISTORY_POLL_MS = 10_000;

export interface PegInContext {
  rpc: NodeRpc;
  federation: Federation;
  requiredConfirmations: number;
  /** localStorage key of the history (per chain and federation address). */
  historyKey: string;
  /** The connected wallet's account, if any. */
  account: () => string | null;
}

/** A status in words, with its state name, progress and whether it can still change. */
export interface Described {
  state: string;
  text: string;
  progress?: { value: number; max: number };
  final: boolean;
}

export function describeStatus(s: PegInStatus, required: number): Described {
  const n = s.requiredConfirmations ?? required;
  const amount = `${formatBtc(s.sats)} BTC`;
  switch (s.state) {
    case 'minted': {
      const where =
        s.mintedInBlockNumber != null
          ? `Alys block ${s.mintedInBlockNumber}`
          : `the Alys block ${shortHex(s.mintedIn ?? '')}`;
      return {
        state: 'minted',
        text: `Minted: ${amount} credited to ${s.recipient ? getAddress(s.recipient) : 'the account in the deposit'} in ${where}.`,
        final: true,
      };
    }
    case 'seen':
      return {
        state: 'seen',
        text: `Seen in Bitcoin block ${s.block?.height ?? '?'}: ${s.confirmations} of ${n} confirmations. ${amount} will be minted after ${n}.`,
        progress: { value: Math.min(s.confirmations, n), max: n },
        final: false,
      };
    case 'confirmed':
      return {
        state: 'confirmed',
        text: `Confirmed on Bitcoin (${s.confirmations} of ${n} confirmations): ${amount} is minted in one of the next Alys blocks.`,
        progress: { value: n, max: n },
        final: false,
      };
    case 'rejected':
      return {
        state: 'rejected',
        text: `Rejected: ${s.reason ?? 'this transaction is not a valid deposit'}. It will not be minted; the coins stay with the federation.`,
        final: true,
      };
    case 'dropped':
      return {
        state: 'waiting',
        text: 'The Bitcoin block that held this deposit was replaced. Waiting for the transaction to be mined again.',
        final: false,
      };
    case 'reverted':
      return {
        state: 'waiting',
        text: 'The Bitcoin block that held this deposit was replaced after it had confirmed. The federation is waiting for it to be mined again.',
        final: false,
      };
    default:
      return { state: 'waiting', text: 'The node reports a state this page does not know yet.', final: false };
  }
}

const NOT_SEEN =
  'Not seen yet: the node has not found this transaction in a Bitcoin block paying the federation. A new transaction shows here once it is mined; this page checks every few seconds.';

export class PegIn {
  private recipientHex: string | null = null;
  private sats: bigint | null = null;
  private followed: string | null = null;
  private timer: number | undefined;
  private readonly history: History;

  constructor(private readonly ctx: PegInContext) {
    this.history = new History(ctx.historyKey);
  }

  mount(): void {
    const f = this.ctx.federation;
    el('deposit-address').textContent = f.address;
    drawQr(el('deposit-qr'), f.address);
    el('minimum').textContent = `${formatBtc(f.minPegInSats)} BTC (${formatSats(f.minPegInSats)})`;
    el('confirmations').textContent = `${this.ctx.requiredConfirmations} Bitcoin blocks`;
    el('network').textContent = networkName(f.network);
    el('amount-hint').textContent = `Minimum ${formatBtc(f.minPegInSats)} BTC. Smaller deposits are not minted.`;
    button('copy-address').addEventListener('click', (e) =>
      copyText(f.address, e.currentTarget as HTMLButtonElement),
    );
    button('copy-command').addEventListener('click', (e) =>
      copyText(el('command').textContent ?? '', e.currentTarget as HTMLButtonElement),
    );

    const recipient = field('recipient');
    const amount = field('amount');
    // Errors show once the user leaves a field (or presses Enter); typing only clears them.
    recipient.addEventListener('input', () => this.checkRecipient(false));
    recipient.addEventListener('change', () => this.checkRecipient(true));
    amount.addEventListener('input', () => this.checkAmount(false));
    amount.addEventListener('change', () => this.checkAmount(true));
    button('use-wallet').addEventListener('click', () => this.useWallet());

    const txid = field('txid');
    button('follow').addEventListener('click', () => this.follow(txid.value));
    txid.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.follow(txid.value);
    });
    button('clear-history').addEventListener('click', () => {
      this.history.clear();
      this.renderHistory();
    });
    this.renderHistory();
    window.setInterval(() => void this.refreshHistory(), HISTORY_POLL_MS);
    void this.refreshHistory();
  }

  /** The wallet's account changed: fill the recipient if empty, refilter the history. */
  onAccount(account: string | null): void {
    const recipient = field('recipient');
    if (account && recipient.value.trim() === '') {
      recipient.value = account;
      this.checkRecipient(true);
    }
    this.renderHistory();
  }

  private useWallet(): void {
    const account = this.ctx.account();
    const recipient = field('recipient');
    if (!account) {
      setFieldError(el('recipient-error'), recipient, 'Connect a wallet first, or type the address to credit.');
      return;
    }
    recipient.value = account;
    this.checkRecipient(true);
  }

  private checkRecipient(show: boolean): void {
    const input = field('recipient');
    const text = input.value.trim();
    let error = '';
    this.recipientHex = null;
    if (text === '') {
      error = '';
    } else if (!isAddress(text, { strict: false })) {
      error = `“${shorten(text)}” is not an EVM address: it should be 0x followed by 40 hexadecimal characters.`;
    } else if (!isAddress(text, { strict: true })) {
      error = 'The capital letters of this address do not match its checksum, so it was probably mistyped. Copy it again from your wallet.';
    } else if (/^0x0{40}$/i.test(text)) {
      error = 'That is the zero address: nobody can spend coins credited to it.';
    } else {
      this.recipientHex = text.slice(2).toLowerCase();
    }
    if (show || !error) setFieldError(el('recipient-error'), input, error);
    this.renderInstructions();
  }

  private checkAmount(show: boolean): void {
    const input = field('amount');
    const text = input.value.trim();
    const min = BigInt(this.ctx.federation.minPegInSats);
    let error = '';
    this.sats = null;
    if (text !== '') {
      const sats = parseBtc(text);
      if (sats === null) {
        error = 'Enter the amount in BTC, for example 0.001 (at most 8 decimal places).';
      } else if (sats < min) {
        error = `The minimum deposit is ${formatBtc(min)} BTC (${formatSats(min)}). A smaller deposit is not minted, and its coins stay with the federation.`;
      } else {
        this.sats = sats;
      }
    }
    if (show || !error) setFieldError(el('amount-error'), input, error);
    this.renderInstructions();
  }

  private renderInstructions(): void {
    const f = this.ctx.federation;
    el('data-hex').textContent = this.recipientHex ?? 'enter the account to credit first';
    const ready = this.recipientHex !== null && this.sats !== null;
    el('command-box').hidden = !ready;
    el('command-hint').hidden = ready;
    el('command').textContent = ready
      ? coreSendCommand(f.network, f.address, this.sats as bigint, this.recipientHex as string)
      : '';
  }

  /** Starts following `text` as a txid. */
  follow(text: string): void {
    const txid = text.trim().toLowerCase();
    const input = field('txid');
    if (!/^[0-9a-f]{64}$/.test(txid)) {
      setFieldError(
        el('txid-error'),
        input,
        'A Bitcoin transaction id is 64 hexadecimal characters (0-9 and a-f). Copy it from your wallet.',
      );
      return;
    }
    setFieldError(el('txid-error'), input, '');
    input.value = txid;
    this.followed = txid;
    this.history.upsert(txid);
    this.renderHistory();
    this.show({ state: 'waiting', text: 'Asking the node…', final: false });
    window.clearTimeout(this.timer);
    void this.poll(txid);
  }

  private async poll(txid: string): Promise<void> {
    if (this.followed !== txid) return;
    let described: Described;
    try {
      const status = await this.ctx.rpc.call<PegInStatus>('getpeginstatus', [txid]);
      described = describeStatus(status, this.ctx.requiredConfirmations);
      this.remember(txid, status, described);
    } catch (e) {
      if (e instanceof NodeError && e.kind === 'rpc' && e.code === NOT_FOUND) {
        described = { state: 'waiting', text: NOT_SEEN, final: false };
      } else {
        described = { state: 'error', text: userMessage(e), final: false };
      }
    }
    if (this.followed !== txid) return;
    this.show(described);
    if (!described.final) {
      this.timer = window.setTimeout(() => void this.poll(txid), POLL_MS);
    }
  }

  private show(d: Described): void {
    const box = el('pegin-status');
    box.dataset.state = d.state;
    el('pegin-status-text').textContent = d.text;
    const progress = el('pegin-progress') as HTMLProgressElement;
    progress.hidden = !d.progress;
    if (d.progress) {
      progress.max = d.progress.max;
      progress.value = d.progress.value;
    }
  }

  private remember(txid: string, status: PegInStatus, d: Described): void {
    this.history.upsert(txid, {
      recipient: status.recipient?.toLowerCase() ?? undefined,
      sats: status.sats,
      state: d.state,
    });
    this.renderHistory();
  }

  private async refreshHistory(): Promise<void> {
    for (const entry of this.history.entries()) {
      if (entry.state === 'minted' || entry.state === 'rejected' || entry.txid === this.followed) continue;
      try {
        const status = await this.ctx.rpc.call<PegInStatus>('getpeginstatus', [entry.txid]);
        this.remember(entry.txid, status, describeStatus(status, this.ctx.requiredConfirmations));
      } catch {
        // Not seen yet, or the node is away: the list keeps the last known state.
      }
    }
  }

  private renderHistory(): void {
    const account = this.ctx.account()?.toLowerCase() ?? null;
    const all = this.history.entries();
    const mine = account ? all.filter((e) => !e.recipient || e.recipient === account) : all;
    const list = el('history');
    list.replaceChildren(...mine.map((e) => this.historyItem(e)));
    const hidden = all.length - mine.length;
    el('history-note').textContent =
      all.length === 0
        ? 'Deposits you follow on this page are remembered in this browser.'
        : account
          ? `Deposits to ${account} followed in this browser${hidden ? ` (${hidden} to other accounts not shown)` : ''}.`
          : 'Deposits followed in this browser.';
    button('clear-history').hidden = all.length === 0;
  }

  private historyItem(e: HistoryEntry): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset.txid = e.txid;
    const code = document.createElement('code');
    code.textContent = shortHex(e.txid, 8);
    code.title = e.txid;
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = stateLabel(e.state);
    const amount = document.createElement('span');
    amount.textContent = e.sats != null ? `${formatBtc(e.sats)} BTC` : '';
    const show = document.createElement('button');
    show.type = 'button';
    show.textContent = 'Show';
    show.setAttribute('aria-label', `Show deposit ${e.txid}`);
    show.addEventListener('click', () => {
      button('tab-pegin').click();
      field('txid').value = e.txid;
      this.follow(e.txid);
    });
    li.append(code, state, amount, show);
    return li;
  }
}

function stateLabel(state: string | undefined): string {
  switch (state) {
    case 'minted':
      return 'minted';
    case 'seen':
      return 'confirming';
    case 'confirmed':
      return 'confirmed, minting';
    case 'rejected':
      return 'rejected';
    default:
      return 'not seen yet';
  }
}

function shorten(text: string): string {
  return text.length > 50 ? `${text.slice(0, 47)}…` : text;
}
