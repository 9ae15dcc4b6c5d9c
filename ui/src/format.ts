// Amounts, addresses and the Bitcoin Core command, as text.

export const SATS_PER_BTC = 100_000_000n;

/** `sats` as BTC with up to 8 decimals, trailing zeros dropped (`123456` → `0.00123456`). */
export function formatBtc(sats: bigint | number): string {
  const s = BigInt(sats);
  const whole = s / SATS_PER_BTC;
  const frac = (s % SATS_PER_BTC).toString().padStart(8, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole.toString();
}

/** `1234567` → `1,234,567 sats`. */
export function formatSats(sats: bigint | number): string {
  return `${BigInt(sats).toLocaleString('en-US')} sats`;
}

/** A BTC amount typed by a user (`0.001`, `.5`, `2`) in sats; null if it is not one. */
export function parseBtc(text: string): bigint | null {
  const t = text.trim().replace(',', '.');
  const m = /^(\d{0,8})(?:\.(\d{0,8}))?$/.exec(t);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return null;
  const whole = BigInt(m[1] || '0');
  const frac = BigInt((m[2] ?? '').padEnd(8, '0') || '0');
  return whole * SATS_PER_BTC + frac;
}

/** How a network is named to users. */
export function networkName(network: string): string {
  switch (network) {
    case 'bitcoin':
      return 'Bitcoin mainnet';
    case 'testnet':
      return 'Bitcoin testnet3';
    case 'testnet4':
      return 'Bitcoin testnet4';
    case 'signet':
      return 'Bitcoin signet';
    case 'regtest':
      return 'Bitcoin regtest (a local test network)';
    default:
      return network;
  }
}

/** `bitcoin-cli`'s flag for `network`. */
export function networkFlag(network: string): string {
  return network === 'bitcoin' || network === 'mainnet' ? '' : ` -${network}`;
}

/**
 * The Bitcoin Core command that makes the deposit: `send` with one output paying `address`
 * and one `data` (OP_RETURN) output holding the 20 bytes of the account to credit.
 */
export function coreSendCommand(network: string, address: string, sats: bigint, recipientHex: string): string {
  const outputs = `[{"${address}":${formatBtc(sats)}},{"data":"${recipientHex}"}]`;
  return `bitcoin-cli${networkFlag(network)} send '${outputs}'`;
}

/** `0xabcdef…1234` for long hex. */
export function shortHex(hex: string, keep = 6): string {
  return hex.length > keep * 2 + 3 ? `${hex.slice(0, keep + 2)}…${hex.slice(-keep)}` : hex;
}
