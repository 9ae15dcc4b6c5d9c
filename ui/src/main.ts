// The peg web page: loads where the node's RPCs are (/config.json, from the node serving this
// page), reads the chain and the federation from the node, then runs the wallet bar, the
// peg-in panel, the peg-out panel and the history of both. The node is checked every few seconds; when it cannot be
// reached the page says so and keeps trying.

import { createClient, formatEther, http, type Client } from 'viem';
import { getBalance } from 'viem/actions';
import { button, el, setStatus } from './dom';
import { userMessage, walletMessage } from './errors';
import { networkName } from './format';
import { PegIn } from './pegin';
import { PegOut } from './pegout';
import { NodeError, NodeRpc, type ChainSpecAnswer, type Federation } from './rpc';
import { Wallets, type TargetChain, type WalletState } from './wallet';

interface PageConfig {
  nodeRpcUrl: string;
  ethRpcUrl: string | null;
}

interface NodeInfo {
  chainId: number;
  specHash: string;
  federation: Federation;
  requiredConfirmations: number;
}

const RETRY_MS = 3000;
const HEARTBEAT_MS = 3000;

const sleep = (ms: number) => new Promise((r) => window.setTimeout(r, ms));

async function loadConfig(): Promise<PageConfig> {
  for (;;) {
    try {
      const r = await fetch('/config.json', { cache: 'no-store' });
      if (r.ok) return (await r.json()) as PageConfig;
    } catch {
      // The node serving this page is away: say so below and retry.
    }
    setStatus(el('node-status'), 'error', 'The node serving this page cannot be reached. Check that it is running; this page keeps trying.');
    await sleep(RETRY_MS);
  }
}

async function loadNode(rpc: NodeRpc): Promise<NodeInfo> {
  for (;;) {
    try {
      const [chain, federation] = await Promise.all([
        rpc.call<ChainSpecAnswer>('getchainspec'),
        rpc.call<Federation>('getfederation'),
      ]);
      return {
        chainId: chain.spec.chainId,
        specHash: chain.specHash,
        federation,
        requiredConfirmations: federation.requiredConfirmations ?? chain.spec.requiredBtcConfirmations ?? 6,
      };
    } catch (e) {
      const text =
        e instanceof NodeError && e.kind === 'rpc'
          ? 'This node does not run the peg (it has no federation or no Bitcoin connection), so there is nothing to show here.'
          : userMessage(e);
      setStatus(el('node-status'), 'error', text);
    }
    await sleep(RETRY_MS);
  }
}

function chainName(info: NodeInfo): string {
  const n = info.federation.network;
  return n === 'bitcoin' ? 'Alys' : `Alys ${n}`;
}

class WalletBar {
  private client: Client | null;

  constructor(
    private readonly wallets: Wallets,
    private readonly target: TargetChain,
  ) {
    this.client = target.rpcUrl ? createClient({ transport: http(target.rpcUrl) }) : null;
    button('network-button').addEventListener('click', () => void this.switchNetwork());
  }

  render(state: WalletState): void {
    const choices = el('wallet-choices');
    const status = el('wallet-status');
    const network = button('network-button');
    network.hidden = true;
    switch (state.kind) {
      case 'looking':
        choices.replaceChildren();
        setStatus(status, 'looking', 'Looking for a browser wallet…');
        return;
      case 'none':
        choices.replaceChildren();
        setStatus(
          status,
          'none',
          'No browser wallet found. Install a wallet such as MetaMask to connect, or type the address to credit by hand below.',
        );
        return;
      case 'available':
        choices.replaceChildren(
          ...state.wallets.map((w) => {
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'wallet';
            b.dataset.rdns = w.info.rdns;
            if (w.info.icon.startsWith('data:image/')) {
              const img = document.createElement('img');
              img.src = w.info.icon;
              img.alt = '';
              b.append(img);
            }
            b.append(`Connect ${w.info.name}`);
            b.addEventListener('click', () => void this.connect(w));
            return b;
          }),
        );
        setStatus(status, 'available', 'Connect a wallet to credit its account and to add this network to it.');
        return;
      case 'connected': {
        choices.replaceChildren();
        const who = `${state.wallet.info.name} connected: ${state.account}`;
        if (state.chainId !== this.target.chainId) {
          setStatus(
            status,
            'wrong-network',
            `${who}. Your wallet is on another network (chain ${state.chainId}), not ${this.target.name} (chain ${this.target.chainId}). Switch network to see your balance here.`,
          );
          network.textContent = `Switch wallet to ${this.target.name}`;
          network.hidden = false;
        } else {
          setStatus(status, 'ok', `${who}, on ${this.target.name}.`);
          void this.showBalance(state.account);
        }
      }
    }
  }

  private async connect(w: Parameters<Wallets['connect']>[0]): Promise<void> {
    el('wallet-error').textContent = '';
    try {
      await this.wallets.connect(w);
    } catch (e) {
      el('wallet-error').textContent = walletMessage(e);
    }
  }

  private async switchNetwork(): Promise<void> {
    el('wallet-error').textContent = '';
    try {
      await this.wallets.switchTo(this.target);
    } catch (e) {
      el('wallet-error').textContent = walletMessage(e);
    }
  }

  /** Refreshes the connected account's balance line (on the right network only). */
  async showBalance(account: `0x${string}`): Promise<void> {
    if (!this.client) return;
    try {
      const wei = await getBalance(this.client, { address: account });
      const state = this.wallets.state();
      if (state.kind !== 'connected' || state.account !== account || state.chainId !== this.target.chainId) return;
      setStatus(
        el('wallet-status'),
        'ok',
        `${state.wallet.info.name} connected: ${account}, on ${this.target.name}. Balance: ${formatEther(wei)} BTC.`,
      );
    } catch {
      // The eth RPC is away: the node status line says so.
    }
  }
}

function setupTabs(): void {
  const tabs = [button('tab-pegin'), button('tab-pegout')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      for (const t of tabs) {
        const selected = t === tab;
        t.setAttribute('aria-selected', String(selected));
        t.tabIndex = selected ? 0 : -1;
        el(t.getAttribute('aria-controls') as string).hidden = !selected;
      }
    });
  }
}

async function boot(): Promise<void> {
  setupTabs();
  const wallets = new Wallets();
  let bar: WalletBar | null = null;
  let pegin: PegIn | null = null;
  let pegout: PegOut | null = null;
  let lastAccount: string | null = null;
  wallets.start((state) => {
    bar?.render(state);
    const account = state.kind === 'connected' ? state.account : null;
    if (account !== lastAccount) {
      lastAccount = account;
      pegin?.onAccount(account);
      pegout?.onAccount();
    }
  });

  const config = await loadConfig();
  const rpc = new NodeRpc(config.nodeRpcUrl);
  const info = await loadNode(rpc);
  const target: TargetChain = { chainId: info.chainId, name: chainName(info), rpcUrl: config.ethRpcUrl };
  const ok = `Connected to the node: ${target.name} (chain ${info.chainId}), deposits on ${networkName(info.federation.network)}.`;
  setStatus(el('node-status'), 'ok', ok);

  bar = new WalletBar(wallets, target);
  bar.render(wallets.state());
  pegin = new PegIn({
    rpc,
    federation: info.federation,
    requiredConfirmations: info.requiredConfirmations,
    historyKey: `alys-peg:${info.specHash}:${info.federation.address}:pegins`,
    account: () => wallets.account(),
  });
  pegin.mount();
  pegin.onAccount(wallets.account());
  pegout = new PegOut({
    rpc,
    wallets,
    target,
    network: info.federation.network,
    requiredConfirmations: info.requiredConfirmations,
  });
  void pegout.mount();

  // Heartbeat: the node status line, and the balance of a connected account.
  window.setInterval(async () => {
    try {
      await rpc.call<string>('getdepositaddress');
      setStatus(el('node-status'), 'ok', ok);
      const s = wallets.state();
      if (s.kind === 'connected' && s.chainId === target.chainId) void bar?.showBalance(s.account);
    } catch (e) {
      setStatus(el('node-status'), 'error', userMessage(e));
    }
  }, HEARTBEAT_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  boot().catch((e) => setStatus(el('node-status'), 'error', userMessage(e)));
});
