// Bitcoin addresses checked for a network before anything is signed: segwit v0 (bech32,
// BIP-173), segwit v1+ (bech32m, BIP-350) and base58check P2PKH/P2SH. The codecs are
// @scure/base's and the checksum hash @noble/hashes' sha256; this file only applies the
// address rules (prefixes, versions, program lengths) on top of them.

import { bech32, bech32m, createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2';

const base58check = createBase58check(sha256);

/** A bech32 or bech32m string decoded (no checksum error), else null. */
function decodeWith(codec: typeof bech32, text: string): { prefix: string; words: number[] } | null {
  return (codec.decodeUnsafe(text, 90) as { prefix: string; words: number[] } | undefined) ?? null;
}

/** What an address's prefixes are on one Bitcoin network. */
interface NetworkPrefixes {
  /** Human-readable part of segwit addresses. */
  hrp: string;
  /** base58 version byte of P2PKH addresses. */
  p2pkh: number;
  /** base58 version byte of P2SH addresses. */
  p2sh: number;
}

const MAINNET: NetworkPrefixes = { hrp: 'bc', p2pkh: 0x00, p2sh: 0x05 };
const TESTNET: NetworkPrefixes = { hrp: 'tb', p2pkh: 0x6f, p2sh: 0xc4 };
const REGTEST: NetworkPrefixes = { hrp: 'bcrt', p2pkh: 0x6f, p2sh: 0xc4 };

/** The prefixes of `network` as the node names it (`bitcoin`, `testnet`, `testnet4`, `signet`, `regtest`). */
export function prefixesOf(network: string): NetworkPrefixes | null {
  switch (network) {
    case 'bitcoin':
    case 'mainnet':
      return MAINNET;
    case 'testnet':
    case 'testnet4':
    case 'signet':
      return TESTNET;
    case 'regtest':
      return REGTEST;
    default:
      return null;
  }
}

export type AddressKind = 'p2pkh' | 'p2sh' | 'segwit-v0' | 'taproot' | 'segwit';

/**
 * A checked address: the text to send (bech32 in lower case), its kind and the length of the
 * scriptPubKey it pays (what its payout output weighs).
 */
export type AddressCheck =
  | { ok: true; address: string; kind: AddressKind; scriptBytes: number }
  | { ok: false; error: string };

const fail = (error: string): AddressCheck => ({ ok: false, error });

/** Which network a segwit human-readable part belongs to, in words. */
function hrpNetwork(hrp: string): string | null {
  switch (hrp) {
    case 'bc':
      return 'Bitcoin mainnet';
    case 'tb':
      return 'Bitcoin testnet or signet';
    case 'bcrt':
      return 'Bitcoin regtest';
    default:
      return null;
  }
}

/** Which network a base58 version byte belongs to, in words. */
function versionNetwork(version: number): string | null {
  if (version === MAINNET.p2pkh || version === MAINNET.p2sh) return 'Bitcoin mainnet';
  if (version === TESTNET.p2pkh || version === TESTNET.p2sh) return 'a Bitcoin test network (testnet, signet or regtest)';
  return null;
}

/**
 * Checks `text` as an address on `network` (the federation's network); `networkLabel` names
 * that network in the messages.
 */
export function checkBitcoinAddress(text: string, network: string, networkLabel: string): AddressCheck {
  const want = prefixesOf(network);
  if (!want) return fail(`This page does not know the Bitcoin network “${network}” the chain pays out on.`);
  const t = text.trim();
  if (t === '') return fail('Enter the Bitcoin address to pay.');
  if (!/^[0-9A-Za-z]+$/.test(t)) {
    return fail('A Bitcoin address has only letters and digits: no spaces, punctuation or other characters.');
  }
  // Segwit addresses start with a network's prefix and `1`; base58 addresses never start
  // with `b` or `t`, so a typo further on cannot make one look like the other.
  return /^(bc|tb|bcrt)1/i.test(t) ? checkSegwit(t, want, networkLabel) : checkBase58(t, want, networkLabel);
}

function wrongNetwork(theirs: string, networkLabel: string): AddressCheck {
  return fail(`This is an address on ${theirs}, but this chain pays out on ${networkLabel}. Use an address of ${networkLabel}.`);
}

function checkSegwit(t: string, want: NetworkPrefixes, networkLabel: string): AddressCheck {
  if (t !== t.toLowerCase() && t !== t.toUpperCase()) {
    return fail('This address mixes capital and small letters, which a bech32 address never does. Copy it again from your wallet.');
  }
  const lower = t.toLowerCase();
  // Version 0 is bech32, every later version bech32m: try both checksums.
  const v0 = decodeWith(bech32, lower);
  const v1 = v0 ? null : decodeWith(bech32m, lower);
  const decoded = v0 ?? v1;
  if (!decoded) {
    return fail('This address has a typo: its checksum does not match. Copy it again from your wallet.');
  }
  if (decoded.prefix !== want.hrp) {
    return wrongNetwork(hrpNetwork(decoded.prefix) ?? `another network (“${decoded.prefix}”)`, networkLabel);
  }
  const [version, ...rest] = decoded.words;
  if (version === undefined || version > 16) return fail('This is not a valid segwit address: its version is not 0 to 16.');
  const program = bech32.fromWordsUnsafe(rest) as Uint8Array | undefined;
  if (!program || program.length < 2 || program.length > 40) {
    return fail('This is not a valid segwit address: its witness program has the wrong length.');
  }
  if (version === 0) {
    if (!v0) return fail('This is not a valid segwit address: a version 0 address uses the bech32 checksum, not bech32m.');
    if (program.length !== 20 && program.length !== 32) {
      return fail('This is not a valid segwit address: a version 0 program is 20 or 32 bytes.');
    }
    return { ok: true, address: lower, kind: 'segwit-v0', scriptBytes: 2 + program.length };
  }
  if (!v1) return fail('This is not a valid segwit address: an address of version 1 or later uses the bech32m checksum.');
  const kind = version === 1 && program.length === 32 ? 'taproot' : 'segwit';
  return { ok: true, address: lower, kind, scriptBytes: 2 + program.length };
}

function checkBase58(t: string, want: NetworkPrefixes, networkLabel: string): AddressCheck {
  let payload: Uint8Array;
  try {
    payload = base58check.decode(t);
  } catch {
    return fail('This is not a Bitcoin address, or it has a typo: it is neither a valid bech32 address nor a base58 address with a matching checksum.');
  }
  if (payload.length !== 21) return fail('This is not a Bitcoin address: a base58 address holds 21 bytes.');
  const version = payload[0];
  // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG; OP_HASH160 <20> OP_EQUAL.
  if (version === want.p2pkh) return { ok: true, address: t, kind: 'p2pkh', scriptBytes: 25 };
  if (version === want.p2sh) return { ok: true, address: t, kind: 'p2sh', scriptBytes: 23 };
  const theirs = versionNetwork(version);
  return theirs ? wrongNetwork(theirs, networkLabel) : fail('This is not a Bitcoin address: its base58 version byte is unknown.');
}
