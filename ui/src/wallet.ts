// Browser wallets: EIP-6963 discovery (every wallet announces itself; several can coexist),
// with the legacy `window.ethereum` as a fallback; connecting; and putting the wallet on this
// chain with wallet_switchEthereumChain, adding it first with wallet_addEthereumChain when the
// wallet does not know it (EIP-3085/EIP-3326).

import { getAddress, numberToHex, type Address } from 'viem';
import { UserError, errorCode } from './errors';

/** An EIP-1193 provider. */
export interface Eip1193 {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  on?(event: string, listener: (...args: never[]) => void): void;
  removeListener?(event: string, listener: (...args: never[]) => void): void;
}

/** EIP-6963 provider info. */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
}

export interface DetectedWallet {
  info: WalletInfo;
  provider: Eip1193;
}

/** The chain the page wants the wallet on. */
export interface TargetChain {
  chainId: number;
  name: string;
  /** eth JSON-RPC URL given to the wallet; null when the node publishes none. */
  rpcUrl: string | null;
}

export type WalletState =
  | { kind: 'looking' }
  | { kind: 'none' }
  | { kind: 'available'; wallets: DetectedWallet[] }
  | { kind: 'connected'; wallet: DetectedWallet; account: Address; chainId: number };

/** How long wallets have to announce themselves before the page says there is none. */
const DISCOVERY_MS = 600;

declare global {
  interface Window {
    ethereum?: Eip1193;
  }
}

export class Wallets {
  private readonly announced = new Map<string, DetectedWallet>();
  private discoveryDone = false;
  private connected: { wallet: DetectedWallet; account: Address; chainId: number } | null = null;
  private readonly listeners: Array<(state: WalletState) => void> = [];

  /** Starts discovery; `listener` hears every state change. */
  start(listener: (state: WalletState) => void): void {
    this.listeners.push(listener);
    window.addEventListener('eip6963:announceProvider', (event: Event) => {
      const detail = (event as CustomEvent<DetectedWallet>).detail;
      if (!detail?.info?.uuid || typeof detail.provider?.request !== 'function') return;
      this.announced.set(detail.info.uuid, { info: { ...detail.info }, provider: detail.provider });
      this.emit();
    });
    window.dispatchEvent(new Event('eip6963:requestProvider'));
    window.setTimeout(() => {
      this.discoveryDone = true;
      this.emit();
    }, DISCOVERY_MS);
    this.emit();
  }

  /** Wallets found so far: the announced ones, else the legacy injected one. */
  available(): DetectedWallet[] {
    const list = [...this.announced.values()];
    if (list.length === 0 && window.ethereum && typeof window.ethereum.request === 'function') {
      list.push({
        info: { uuid: 'window.ethereum', name: 'Browser wallet', icon: '', rdns: '' },
        provider: window.ethereum,
      });
    }
    return list;
  }

  state(): WalletState {
    if (this.connected) return { kind: 'connected', ...this.connected };
    const wallets = this.available();
    if (wallets.length > 0) return { kind: 'available', wallets };
    return this.discoveryDone ? { kind: 'none' } : { kind: 'looking' };
  }

  /** The connected account, if any. */
  account(): Address | null {
    return this.connected?.account ?? null;
  }

  /** Asks `wallet` for an account (the wallet shows its own approval prompt). */
  async connect(wallet: DetectedWallet): Promise<void> {
    const accounts = (await wallet.provider.request({ method: 'eth_requestAccounts' })) as string[];
    if (!Array.isArray(accounts) || accounts.length === 0) {
      throw new UserError('Your wallet shared no account with this page.');
    }
    const chainId = await this.chainIdOf(wallet);
    this.connected = { wallet, account: getAddress(accounts[0]), chainId };
    this.subscribe(wallet);
    this.emit();
  }

  /** Puts the connected wallet on `target`, adding the network to it first if it lacks it. */
  async switchTo(target: TargetChain): Promise<void> {
    const c = this.connected;
    if (!c) throw new UserError('Connect a wallet first.');
    const chainId = numberToHex(target.chainId);
    const request = (method: string, params: unknown) => c.wallet.provider.request({ method, params });
    try {
      await request('wallet_switchEthereumChain', [{ chainId }]);
    } catch (e) {
      if (!isUnknownChain(e)) throw e;
      if (!target.rpcUrl) {
        throw new UserError(
          'Your wallet does not know this network, and this node publishes no eth RPC URL to add it with. Ask the node operator for the network\'s RPC URL and add it in your wallet.',
        );
      }
      await request('wallet_addEthereumChain', [
        {
          chainId,
          chainName: target.name,
          nativeCurrency: { name: 'Bitcoin', symbol: 'BTC', decimals: 18 },
          rpcUrls: [target.rpcUrl],
        },
      ]);
      if ((await this.chainIdOf(c.wallet)) !== target.chainId) {
        await request('wallet_switchEthereumChain', [{ chainId }]);
      }
    }
    c.chainId = await this.chainIdOf(c.wallet);
    this.emit();
  }

  private async chainIdOf(wallet: DetectedWallet): Promise<number> {
    const hex = (await wallet.provider.request({ method: 'eth_chainId' })) as string;
    const id = Number.parseInt(String(hex), 16);
    if (!Number.isSafeInteger(id)) throw new UserError('Your wallet reported a chain id this page cannot read.');
    return id;
  }

  private subscribe(wallet: DetectedWallet): void {
    const p = wallet.provider;
    if (!p.on) return;
    p.on('accountsChanged', ((accounts: string[]) => {
      if (this.connected?.wallet !== wallet) return;
      if (!Array.isArray(accounts) || accounts.length === 0) this.connected = null;
      else this.connected.account = getAddress(accounts[0]);
      this.emit();
    }) as (...args: never[]) => void);
    p.on('chainChanged', ((hex: string) => {
      if (this.connected?.wallet !== wallet) return;
      this.connected.chainId = Number.parseInt(String(hex), 16);
      this.emit();
    }) as (...args: never[]) => void);
  }

  private emit(): void {
    const s = this.state();
    for (const l of this.listeners) l(s);
  }
}

/** Error 4902 (the wallet does not know the chain), also as wrapped by some wallets. */
function isUnknownChain(e: unknown): boolean {
  if (errorCode(e) === 4902) return true;
  const data = (e as { data?: { originalError?: { code?: number } } } | null)?.data;
  return data?.originalError?.code === 4902;
}
