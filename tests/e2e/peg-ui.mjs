// The peg web page in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against a running `alys dev`. Run by app/tests/peg_ui.rs, which owns the node and the
// Bitcoin side and answers this script's requests (lines `@@ {json}` on stdout, one JSON line
// back on stdin): `deposit` (python-bitcoinlib builds and sends it), `mine`, `balance` (cast
// balance), `payout` (what a Bitcoin transaction pays an address, read from the devnet) and
// `stop-node`.
//
// The wallet is a small EIP-1193 provider announced over EIP-6963 exactly as MetaMask
// announces itself (`eip6963:announceProvider` with a frozen {info, provider}, again on every
// `eip6963:requestProvider`); its requests are answered here, in Node.js, by a viem account
// holding a throwaway key: it knows only Ethereum mainnet until the page adds the chain, and it
// can be told to reject the next request as a user would. A page opened at `#no-wallet` gets
// no wallet at all.
//
// Environment: UI_URL, NODE_RPC_URL, ETH_RPC_URL, CHAIN_ID, OUT_DIR (screenshots), CHROMIUM
// (default /usr/bin/chromium). Prints `ok - …` per check and exits non-zero on the first
// failure.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { chromium } from 'playwright-core'
import { createPublicClient, createWalletClient, defineChain, encodeFunctionData, http, numberToHex, parseAbi, stringToHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is required`)
  return v
}
const UI_URL = env('UI_URL')
const ETH_RPC_URL = env('ETH_RPC_URL')
const CHAIN_ID = Number(env('CHAIN_ID'))
const OUT_DIR = env('OUT_DIR')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const STEP_TIMEOUT = 30_000
const PAYOUT_TIMEOUT = 90_000
const BRIDGE = '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB'
const REQUEST_PEG_OUT = parseAbi(['function requestPegOut(bytes bitcoinAddress) payable'])
/** A regtest taproot address the peg-out pays. */
const PAYOUT_ADDRESS = 'bcrt1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqc8gma6'

function check(cond, what, detail = '') {
  if (!cond) throw new Error(`FAILED: ${what}${detail ? `: ${detail}` : ''}`)
  console.log(`ok - ${what}`)
}

// Requests to the Rust side, answered in order on stdin.
const replies = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
async function ask(request) {
  console.log(`@@ ${JSON.stringify(request)}`)
  const { value, done } = await replies.next()
  if (done) throw new Error(`no answer to ${request.ask}`)
  const answer = JSON.parse(value)
  if (answer.error) throw new Error(`${request.ask}: ${answer.error}`)
  return answer
}

// ---- the wallet ----------------------------------------------------------------------------

const account = privateKeyToAccount(generatePrivateKey())
const wallet = {
  chainId: 1,
  chains: new Map(), // chain id → added parameters
  connected: false,
  rejectNext: false,
  calls: [],
}
const rpcError = (code, message) => ({ error: { code, message } })

async function forward(method, params) {
  const chain = wallet.chains.get(wallet.chainId)
  if (!chain) return rpcError(4900, 'The wallet is on a chain it cannot reach in this test.')
  const r = await fetch(chain.rpcUrls[0], {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params ?? [] }),
  })
  const body = await r.json()
  return body.error ? { error: body.error } : { result: body.result }
}

function viemChain() {
  const c = wallet.chains.get(wallet.chainId)
  return defineChain({
    id: wallet.chainId,
    name: c.chainName,
    nativeCurrency: c.nativeCurrency,
    rpcUrls: { default: { http: c.rpcUrls } },
  })
}

/** One EIP-1193 request from the page; `{result}` or `{error: {code, message}}`. */
async function walletRequest(page, method, params) {
  wallet.calls.push({ method, params })
  if (wallet.rejectNext) {
    wallet.rejectNext = false
    return rpcError(4001, 'User rejected the request.')
  }
  switch (method) {
    case 'eth_requestAccounts':
      wallet.connected = true
      return { result: [account.address] }
    case 'eth_accounts':
      return { result: wallet.connected ? [account.address] : [] }
    case 'eth_chainId':
      return { result: numberToHex(wallet.chainId) }
    case 'wallet_switchEthereumChain': {
      const id = Number(params?.[0]?.chainId)
      if (id !== 1 && !wallet.chains.has(id)) {
        return rpcError(4902, `Unrecognized chain ID "${params?.[0]?.chainId}". Try adding the chain using wallet_addEthereumChain first.`)
      }
      wallet.chainId = id
      await page.evaluate((hex) => window.__testWalletEmit('chainChanged', hex), numberToHex(id))
      return { result: null }
    }
    case 'wallet_addEthereumChain': {
      const p = params?.[0] ?? {}
      const id = Number(p.chainId)
      if (!p.chainName || !p.nativeCurrency || !Array.isArray(p.rpcUrls) || !p.rpcUrls[0]) {
        return rpcError(-32602, 'Invalid chain parameters.')
      }
      // As MetaMask does: the RPC must serve the chain id it is added for.
      const served = await createPublicClient({ transport: http(p.rpcUrls[0]) }).getChainId()
      if (served !== id) return rpcError(-32602, `The RPC serves chain ${served}, not ${id}.`)
      wallet.chains.set(id, p)
      return { result: null }
    }
    case 'personal_sign':
      return { result: await account.signMessage({ message: { raw: params[0] } }) }
    case 'eth_sendTransaction': {
      const tx = params[0]
      const client = createWalletClient({ account, chain: viemChain(), transport: http(wallet.chains.get(wallet.chainId).rpcUrls[0]) })
      const hash = await client.sendTransaction({
        to: tx.to,
        data: tx.data,
        value: tx.value ? BigInt(tx.value) : undefined,
        gas: tx.gas ? BigInt(tx.gas) : undefined,
      })
      return { result: hash }
    }
    default:
      return forward(method, params)
  }
}

// Runs in the page before its own scripts: the provider object and its EIP-6963 announcement.
const SHIM = `(() => {
  if (location.hash === '#no-wallet') return;
  const listeners = {};
  const provider = {
    isMetaMask: true,
    async request({ method, params }) {
      const answer = JSON.parse(await window.__testWallet(JSON.stringify({ method, params })));
      if (answer.error) {
        const e = new Error(answer.error.message);
        e.code = answer.error.code;
        throw e;
      }
      return answer.result;
    },
    on(event, fn) { (listeners[event] = listeners[event] || []).push(fn); return provider; },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); return provider; },
  };
  window.__testWalletEmit = (event, arg) => (listeners[event] || []).forEach((fn) => fn(arg));
  const info = Object.freeze({
    uuid: crypto.randomUUID(),
    name: 'MetaMask',
    icon: 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxMCAxMCI+PHJlY3Qgd2lkdGg9IjEwIiBoZWlnaHQ9IjEwIiBmaWxsPSIjZjY4NTFiIi8+PC9zdmc+',
    rdns: 'io.metamask',
  });
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
})();`

// ---- the browser ---------------------------------------------------------------------------

mkdirSync(OUT_DIR, { recursive: true })
const profile = mkdtempSync(join(tmpdir(), 'alys-peg-ui-chromium-'))
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1100, height: 900 },
})
context.setDefaultTimeout(STEP_TIMEOUT)
const page = context.pages()[0] ?? (await context.newPage())
const consoleErrors = []
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(m.text())
})
page.on('pageerror', (e) => consoleErrors.push(String(e)))
// Nothing but the node: any request elsewhere fails the test.
const outside = []
await context.route('**/*', (route) => {
  const u = new URL(route.request().url())
  const local = u.protocol === 'data:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost'
  if (local) return route.continue()
  outside.push(u.href)
  return route.abort()
})
await context.exposeFunction('__testWallet', async (json) => {
  const { method, params } = JSON.parse(json)
  try {
    return JSON.stringify(await walletRequest(page, method, params))
  } catch (e) {
    return JSON.stringify(rpcError(-32603, String(e?.message ?? e)))
  }
})
await context.addInitScript(SHIM)

let shot = 0
async function screenshot(name, target = page) {
  shot++
  const file = join(OUT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`)
  await target.screenshot({ path: file, fullPage: true })
  console.log(`screenshot ${file}`)
}
const text = async (selector) => (await page.locator(selector).textContent())?.trim() ?? ''
const waitState = (selector, state, timeout = STEP_TIMEOUT) =>
  page.waitForSelector(`${selector}[data-state="${state}"]`, { state: 'attached', timeout })

try {
  // ---- loads, under a second, labelled ------------------------------------------------------
  await page.goto(UI_URL, { waitUntil: 'load' })
  const timing = await page.evaluate(() => {
    const [nav] = performance.getEntriesByType('navigation')
    return { load: nav.loadEventEnd - nav.startTime, domContentLoaded: nav.domContentLoadedEventEnd - nav.startTime }
  })
  await waitState('#node-status', 'ok')
  const ready = await page.evaluate(() => performance.now())
  console.log(`page load ${timing.load.toFixed(0)} ms, DOMContentLoaded ${timing.domContentLoaded.toFixed(0)} ms, node data shown after ${ready.toFixed(0)} ms`)
  check(timing.load < 1000, 'the page loads in under 1 s from the local node', `${timing.load} ms`)
  check((await text('#node-status')).includes(`chain ${CHAIN_ID}`), 'the page names the chain from the node')
  const address = await text('#deposit-address')
  check(/^bcrt1p[0-9a-z]+$/.test(address), 'the deposit address is shown', address)
  check((await page.locator('#deposit-qr svg path').count()) === 1, 'the deposit address has a QR code')
  check((await text('#confirmations')).startsWith('2 '), 'the confirmations required are shown', await text('#confirmations'))
  const minText = await text('#minimum')
  const minSats = BigInt(minText.match(/\(([\d,]+) sats\)/)[1].replaceAll(',', ''))
  check(minSats > 0n, 'the minimum is shown', minText)
  await screenshot('loaded')

  // ---- a browser without any wallet -------------------------------------------------------
  const bare = await context.newPage()
  await bare.goto(`${UI_URL}#no-wallet`)
  await bare.waitForSelector('#wallet-status[data-state="none"]', { state: 'attached' })
  check(
    (await bare.locator('#wallet-status').textContent()).startsWith('No browser wallet found.'),
    'no wallet is said plainly',
  )
  await screenshot('no-wallet', bare)
  await bare.close()

  // ---- wallet: rejected, connected on the wrong network, network added and switched --------
  const connect = page.getByRole('button', { name: 'Connect MetaMask' })
  await connect.waitFor()
  wallet.rejectNext = true
  await connect.click()
  await page.waitForFunction(() => document.querySelector('#wallet-error').textContent.includes('declined'))
  check((await text('#wallet-error')) === 'You declined the request in your wallet.', 'a rejected connection is said plainly')
  await screenshot('wallet-rejected')
  await connect.click()
  await waitState('#wallet-status', 'wrong-network')
  check((await text('#wallet-status')).includes(account.address), 'the connected account is shown')
  check((await text('#wallet-status')).includes('another network (chain 1)'), 'the wrong network is said plainly', await text('#wallet-status'))
  await screenshot('wrong-network')
  await page.locator('#network-button').click()
  await waitState('#wallet-status', 'ok')
  const added = wallet.calls.find((c) => c.method === 'wallet_addEthereumChain')?.params?.[0]
  check(!!added, 'the page adds the network (wallet_addEthereumChain)')
  check(added.chainId === numberToHex(CHAIN_ID), 'with the chain id from the node', added.chainId)
  check(added.chainName === 'Alys regtest', 'with the chain name', added.chainName)
  check(
    JSON.stringify(added.nativeCurrency) === JSON.stringify({ name: 'Bitcoin', symbol: 'BTC', decimals: 18 }),
    'with BTC, 18 decimals, as native currency',
    JSON.stringify(added.nativeCurrency),
  )
  check(added.rpcUrls?.[0]?.replace('localhost', '127.0.0.1') === ETH_RPC_URL.replace(/\/$/, ''), 'with the node\'s eth RPC URL', `${added.rpcUrls} vs ${ETH_RPC_URL}`)
  const switches = wallet.calls.filter((c) => c.method === 'wallet_switchEthereumChain')
  check(switches.length >= 2 && switches.at(-1).params[0].chainId === numberToHex(CHAIN_ID), 'and switches to it (wallet_switchEthereumChain)')
  check(wallet.chainId === CHAIN_ID, 'the wallet is on the chain')
  await page.waitForFunction(() => document.querySelector('#wallet-status').textContent.includes('Balance: 0 BTC'))
  await screenshot('network-switched')

  // ---- peg-in form: bad address, below the minimum, then the exact command -----------------
  check((await page.inputValue('#recipient')) === account.address, 'the account to credit is the wallet\'s')
  await page.fill('#recipient', '0x1234')
  await page.press('#recipient', 'Tab')
  check((await text('#recipient-error')).includes('is not an EVM address'), 'a bad address shows its message', await text('#recipient-error'))
  check(await page.locator('#command-box').isHidden(), 'and no command is offered')
  await page.fill('#amount', '0.001')
  await page.press('#amount', 'Tab')
  check(await page.locator('#command-box').isHidden(), 'still no command with a bad address')
  await screenshot('bad-address')
  await page.getByRole('button', { name: 'Use my wallet\'s address' }).click()
  check((await text('#recipient-error')) === '', 'the wallet\'s address clears the error')
  const below = minSats - 1n
  await page.fill('#amount', (Number(below) / 1e8).toFixed(8))
  await page.press('#amount', 'Tab')
  check((await text('#amount-error')).startsWith('The minimum deposit is'), 'an amount below the minimum shows its message', await text('#amount-error'))
  check(await page.locator('#command-box').isHidden(), 'and no command is offered')
  await screenshot('below-minimum')
  const sats = 123456n
  await page.fill('#amount', '0.00123456')
  await page.press('#amount', 'Tab')
  check((await text('#amount-error')) === '', 'a valid amount clears the error')
  const recipientHex = account.address.slice(2).toLowerCase()
  const command = await text('#command')
  check(
    command === `bitcoin-cli -regtest send '[{"${address}":0.00123456},{"data":"${recipientHex}"}]'`,
    'the Bitcoin Core command pays the address and carries the 20 bytes',
    command,
  )
  check((await text('#data-hex')) === recipientHex, 'the data output is spelled out for other wallets')
  await screenshot('instructions')

  // ---- the deposit, followed live to "minted" ----------------------------------------------
  const { txid, smallTxid } = await ask({ ask: 'deposit', address, recipient: account.address, sats: Number(sats), small: Number(below) })
  await page.fill('#txid', 'not-a-txid')
  await page.click('#follow')
  check((await text('#txid-error')).startsWith('A Bitcoin transaction id is 64'), 'a malformed txid shows its message')
  await page.fill('#txid', txid)
  await page.click('#follow')
  await waitState('#pegin-status', 'waiting')
  await page.waitForFunction(() => document.querySelector('#pegin-status-text').textContent.startsWith('Not seen yet'))
  check(true, 'an unmined deposit is "not seen yet"')
  await screenshot('not-seen')
  await ask({ ask: 'mine', blocks: 1 })
  await waitState('#pegin-status', 'seen')
  check((await text('#pegin-status-text')).includes('1 of 2 confirmations'), 'one block later: 1 of 2 confirmations', await text('#pegin-status-text'))
  await screenshot('confirming')
  await ask({ ask: 'mine', blocks: 1 })
  await waitState('#pegin-status', 'minted')
  const minted = await text('#pegin-status-text')
  check(
    new RegExp(`^Minted: 0\\.00123456 BTC credited to ${account.address} in Alys block \\d+\\.$`).test(minted),
    'the page reaches "minted in block X"',
    minted,
  )
  const { wei } = await ask({ ask: 'balance', address: account.address })
  check(BigInt(wei) === sats * 10n ** 10n, 'cast balance shows exactly the deposit', `${wei} wei`)
  await page.waitForFunction(() => document.querySelector('#wallet-status').textContent.includes('Balance: 0.00123456 BTC'))
  check(true, 'the page shows the new balance')
  await page.waitForSelector(`#history li[data-txid="${txid}"] .state:text-is("minted")`)
  check(true, 'the deposit is in the history, minted')
  await screenshot('minted')

  // A deposit below the minimum, sent anyway: rejected with the reason.
  await page.fill('#txid', smallTxid)
  await page.click('#follow')
  await waitState('#pegin-status', 'rejected')
  const rejected = await text('#pegin-status-text')
  check(rejected.startsWith(`Rejected: deposit of ${below} sats is below the minimum of ${minSats} sats.`), 'a deposit below the minimum is rejected with the reason', rejected)
  await page.waitForSelector(`#history li[data-txid="${smallTxid}"] .state:text-is("rejected")`)
  const order = await page.locator('#history li').evaluateAll((items) => items.map((li) => li.dataset.txid))
  check(JSON.stringify(order) === JSON.stringify([smallTxid, txid]), 'the history lists both deposits, newest first', order.join(' '))
  await screenshot('rejected')

  // ---- peg-out: bad addresses, below the minimum, a refusal, then paid on Bitcoin ----------
  await page.getByRole('tab', { name: 'Peg out: Alys to BTC' }).click()
  await waitState('#pegout-status', 'ok')
  check(await page.locator('#pegout-form').isVisible(), 'peg-out offers the request form (the node serves peg-out)')
  check(await page.locator('#pegout-tracker').isVisible(), 'and the request tracker')
  await page.fill('#pegout-tx', '0x' + '11'.repeat(32))
  await page.click('#pegout-follow')
  await waitState('#pegout-result', 'waiting')
  check((await text('#pegout-result')).startsWith('The node knows no peg-out request made by this transaction'), 'an unknown peg-out request is said plainly', await text('#pegout-result'))
  const outMinText = await text('#pegout-amount-hint')
  const outMin = BigInt(outMinText.match(/\(([\d,]+) sats\)/)[1].replaceAll(',', ''))
  check(outMin > 0n, 'the peg-out minimum is shown', outMinText)
  check((await text('#pegout-fee')).includes('sat/vB'), 'the fee rate and fee share are shown', await text('#pegout-fee'))
  const eth = createPublicClient({ transport: http(ETH_RPC_URL) })
  const nonce = () => eth.getTransactionCount({ address: account.address })
  const sent = () => wallet.calls.filter((c) => c.method === 'eth_sendTransaction').length
  const nonceBefore = await nonce()
  const sentBefore = sent()
  const nothingSent = async (what) =>
    check(sent() === sentBefore && (await nonce()) === nonceBefore, `${what}: nothing reached the wallet and the account's nonce is unchanged`)
  const sendError = async (prefix, what) => {
    await page.waitForFunction(() => document.querySelector('#pegout-send-error').textContent !== '')
    check((await text('#pegout-send-error')).startsWith(prefix), what, await text('#pegout-send-error'))
  }
  const payTo = PAYOUT_ADDRESS
  await page.fill('#pegout-amount', '0.0005')
  for (const [bad, message, what] of [
    ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'This is an address on Bitcoin mainnet, but this chain pays out on Bitcoin regtest', 'an address of another network'],
    [payTo.slice(0, -1) + (payTo.endsWith('6') ? '7' : '6'), 'This address has a typo: its checksum does not match', 'a bech32m address with a typo'],
    ['mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfm', 'This is not a Bitcoin address, or it has a typo', 'a base58 address with a bad checksum'],
  ]) {
    await page.fill('#pegout-address', bad)
    await page.press('#pegout-address', 'Tab')
    check((await text('#pegout-address-error')).startsWith(message), `${what} shows its message`, await text('#pegout-address-error'))
  }
  await page.click('#pegout-send')
  await sendError('Correct the fields above first', 'sending with a bad address is refused')
  await screenshot('pegout-bad-address')
  await nothingSent('a bad address')
  for (const good of ['bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', '2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc', payTo]) {
    await page.fill('#pegout-address', good)
    await page.press('#pegout-address', 'Tab')
    check((await text('#pegout-address-error')) === '', `${good.slice(0, 12)}… is accepted`)
  }
  await page.fill('#pegout-amount', (Number(outMin - 1n) / 1e8).toFixed(8))
  await page.press('#pegout-amount', 'Tab')
  check((await text('#pegout-amount-error')).startsWith('The minimum peg-out is'), 'an amount below the minimum shows its message', await text('#pegout-amount-error'))
  await page.click('#pegout-send')
  await sendError('Correct the fields above first', 'sending below the minimum is refused')
  await page.fill('#pegout-amount', '0.000500001')
  await page.press('#pegout-amount', 'Tab')
  check((await text('#pegout-amount-error')).startsWith('A peg-out is a whole number of sats'), 'a fraction of a sat shows its message', await text('#pegout-amount-error'))
  await screenshot('pegout-below-minimum')
  await nothingSent('an amount below the minimum')

  const outSats = 50_000n
  await page.fill('#pegout-amount', '0.0005')
  await page.press('#pegout-amount', 'Tab')
  check((await text('#pegout-amount-error')) === '', 'a valid amount clears the error')
  const feeShare = BigInt(await page.locator('#pegout-fee').getAttribute('data-fee-sats'))
  check(feeShare > 0n && (await text('#pegout-fee')).includes(`You would receive about ${(Number(outSats - feeShare) / 1e8).toFixed(8).replace(/0+$/, '')} BTC`), 'the fee share and what is received are shown', await text('#pegout-fee'))
  // The wallet on another network, then a refusal in the wallet.
  wallet.chainId = 1
  await page.evaluate(() => window.__testWalletEmit('chainChanged', '0x1'))
  await waitState('#wallet-status', 'wrong-network')
  await page.click('#pegout-send')
  await sendError('Your wallet is on another network (chain 1)', 'sending from the wrong network is refused')
  await page.locator('#network-button').click()
  await waitState('#wallet-status', 'ok')
  wallet.rejectNext = true
  await page.click('#pegout-send')
  await sendError('You declined the request in your wallet. Nothing was sent.', 'a refusal in the wallet is said plainly')
  await screenshot('pegout-rejected')
  check((await nonce()) === nonceBefore, 'a refused request leaves the nonce unchanged')

  await page.fill('#pegout-tx', '')
  await page.click('#pegout-send')
  await page.waitForFunction(() => /^0x[0-9a-f]{64}$/.test(document.querySelector('#pegout-tx').value))
  const outHash = await page.inputValue('#pegout-tx')
  const call = wallet.calls.filter((c) => c.method === 'eth_sendTransaction').at(-1).params[0]
  check(call.to.toLowerCase() === BRIDGE.toLowerCase() && BigInt(call.value) === outSats * 10n ** 10n, 'the wallet is asked to send the amount to the Bridge', JSON.stringify(call))
  check(call.data === encodeFunctionData({ abi: REQUEST_PEG_OUT, args: [stringToHex(payTo)] }), 'as requestPegOut(the address\'s bytes)')
  check((await eth.waitForTransactionReceipt({ hash: outHash })).status === 'success', 'the request is mined on Alys')
  await screenshot('pegout-sent')
  // Proposed in a block, signed by the single authority, broadcast to the devnet's mempool.
  await waitState('#pegout-result', 'seen', PAYOUT_TIMEOUT)
  const broadcast = await text('#pegout-result')
  check(/^Broadcast to Bitcoin in transaction [0-9a-f]{64}/.test(broadcast), 'the page follows the request to "broadcast"', broadcast)
  await screenshot('pegout-broadcast')
  await ask({ ask: 'mine', blocks: 2 })
  await waitState('#pegout-result', 'confirmed', PAYOUT_TIMEOUT)
  const confirmed = await text('#pegout-result')
  const payoutTxid = confirmed.match(/in transaction ([0-9a-f]{64})\.$/)?.[1]
  check(!!payoutTxid && confirmed.startsWith(`Confirmed on Bitcoin: 0.0005 BTC less its fee share paid to ${payTo}`), 'the page reaches "confirmed" with the Bitcoin txid', confirmed)
  const paid = await ask({ ask: 'payout', txid: payoutTxid, address: payTo, sats: Number(outSats) })
  check(BigInt(paid.feeShareSats) === feeShare, 'the devnet payout pays the address the amount less the fee share the page showed', `${paid.paidSats} paid, share ${paid.feeShareSats}`)
  await page.waitForSelector(`#pegout-history li[data-hash="${outHash}"] .state:text-is("confirmed")`)
  check(true, 'the peg-out is in the account\'s history, confirmed')
  await screenshot('pegout-confirmed')
  await page.getByRole('tab', { name: 'Peg in: BTC to Alys' }).click()

  // ---- labels, console, outside requests ---------------------------------------------------
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button, progress')]
      .filter((e) => {
        if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')) return false
        if (e.labels && e.labels.length > 0) return false
        if (e.tagName === 'BUTTON' && e.textContent.trim()) return false
        return true
      })
      .map((e) => e.outerHTML.slice(0, 80)),
  )
  check(unlabelled.length === 0, 'every form control has a label', unlabelled.join(' | '))
  check(consoleErrors.length === 0, 'no console errors', consoleErrors.join(' | '))
  check(outside.length === 0, 'no request leaves the node', outside.join(' '))

  // ---- the node stops ------------------------------------------------------------------------
  await ask({ ask: 'stop-node' })
  await waitState('#node-status', 'error')
  check((await text('#node-status')).startsWith('The node cannot be reached at'), 'a stopped node is said plainly', await text('#node-status'))
  await page.fill('#txid', txid)
  await page.click('#follow')
  await waitState('#pegin-status', 'error')
  check((await text('#pegin-status-text')).startsWith('The node cannot be reached'), 'following a deposit says the node is unreachable')
  await screenshot('node-stopped')
  await page.getByRole('tab', { name: 'Peg out: Alys to BTC' }).click()
  const sentBeforeStop = sent()
  await page.fill('#pegout-address', payTo)
  await page.fill('#pegout-amount', '0.0002')
  await page.click('#pegout-send')
  await sendError('The node cannot be reached at', 'a peg-out with the node stopped says the node is unreachable')
  check(sent() === sentBeforeStop, 'and nothing reached the wallet')
  await screenshot('pegout-node-stopped')
  console.log(`screenshots in ${OUT_DIR}`)
  console.log('peg-ui: all checks passed')
} catch (e) {
  await screenshot('failure').catch(() => {})
  console.error(String(e?.stack ?? e))
  process.exitCode = 1
} finally {
  await context.close()
  rmSync(profile, { recursive: true, force: true })
  process.exit(process.exitCode ?? 0)
}
