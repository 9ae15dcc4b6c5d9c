// The peg-ins followed on this page, remembered in this browser (localStorage), per chain and
// federation address. The node keeps no index of deposits by recipient, so this list is what
// the page can offer as "your deposits": every transaction followed here, with its last known
// state; with a wallet connected, those crediting other accounts are left out.

export interface HistoryEntry {
  txid: string;
  /** Recipient from the node's status (lower-case 0x address), once known. */
  recipient?: string;
  sats?: number;
  state?: string;
  /** Milliseconds since the epoch when first followed. */
  added: number;
}

/** Entries kept at most (the oldest are forgotten). */
export const MAX_ENTRIES = 50;

export class History {
  constructor(private readonly key: string) {}

  entries(): HistoryEntry[] {
    try {
      const raw = window.localStorage.getItem(this.key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed)
        ? parsed.filter((e): e is HistoryEntry => !!e && typeof e.txid === 'string')
        : [];
    } catch {
      return [];
    }
  }

  /** Updates `txid` in place, or adds it first (the list stays newest first). */
  upsert(txid: string, update: Partial<HistoryEntry> = {}): void {
    const all = this.entries();
    const i = all.findIndex((e) => e.txid === txid);
    if (i >= 0) all[i] = { ...all[i], ...update };
    else all.unshift({ txid, added: Date.now(), ...update });
    this.save(all.slice(0, MAX_ENTRIES));
  }

  clear(): void {
    this.save([]);
  }

  private save(entries: HistoryEntry[]): void {
    try {
      window.localStorage.setItem(this.key, JSON.stringify(entries));
    } catch {
      // Storage full or disabled: the list is only a convenience.
    }
  }
}
