// Turning failures into sentences a user understands. Nothing raw from a wallet or the node
// reaches the page; the details go to the browser's debug log only.

/** A failure whose message is meant for the user. */
export class UserError extends Error {}

/** The EIP-1193 / JSON-RPC error code of `e`, looking through wrapped causes. */
export function errorCode(e: unknown): number | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur && typeof cur === 'object'; depth++) {
    const obj = cur as { code?: unknown; cause?: unknown; data?: { originalError?: unknown } };
    if (typeof obj.code === 'number') return obj.code;
    cur = obj.cause ?? obj.data?.originalError;
  }
  return undefined;
}

/** What a wallet's refusal or failure means, in words. */
export function walletMessage(e: unknown): string {
  if (e instanceof UserError) return e.message;
  console.debug('wallet error', e);
  switch (errorCode(e)) {
    case 4001:
      return 'You declined the request in your wallet.';
    case 4100:
      return 'Your wallet has not allowed this page to use your account: connect again and approve.';
    case 4200:
      return 'Your wallet does not support this request.';
    case 4900:
    case 4901:
      return 'Your wallet is not connected to any network right now.';
    case -32002:
      return 'Your wallet already has a request from this page waiting: open the wallet to approve or reject it.';
    default:
      return 'Your wallet could not complete the request. Open the wallet to see why, then try again.';
  }
}

/** A user-facing message for any failure. */
export function userMessage(e: unknown): string {
  if (e instanceof UserError) return e.message;
  console.debug('unexpected error', e);
  return 'Something went wrong on this page. Reload it and try again.';
}
