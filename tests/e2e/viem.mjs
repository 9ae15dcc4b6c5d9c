// End-to-end with viem against a running Alys execution client: fees, deployment, reads and
// writes, decoded reverts (require reason and custom error), logs and polling filters, state
// overrides, `newHeads` and `logs` over WebSocket, and `eth_getProof` verified against the
// block's state root with an independent Merkle-Patricia proof check written here.
//
// Needs RPC_URL and WS_URL (blocks must be produced meanwhile, e.g. by
// crates/evm/tests/eth_e2e.rs) and the packages of tests/e2e/setup.sh.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  fromRlp,
  hexToBigInt,
  http,
  keccak256,
  numberToHex,
  padHex,
  parseAbiItem,
  webSocket,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

const require = createRequire(import.meta.url)
const solc = require('solc')

const RPC_URL = process.env.RPC_URL
const WS_URL = process.env.WS_URL
if (!RPC_URL || !WS_URL) throw new Error('RPC_URL and WS_URL are required')
const CHAIN_ID = Number(process.env.CHAIN_ID ?? 263634)

let failures = 0
function check(cond, what, detail = '') {
  if (cond) console.log(`ok   - ${what}`)
  else {
    failures++
    console.log(`FAIL - ${what} ${detail}`)
  }
}
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))])

// Compile the test token with solc-js.
const source = readFileSync(new URL('./contracts/RpcTestToken.sol', import.meta.url), 'utf8')
const output = JSON.parse(
  solc.compile(
    JSON.stringify({
      language: 'Solidity',
      sources: { 'RpcTestToken.sol': { content: source } },
      settings: {
        evmVersion: 'cancun',
        optimizer: { enabled: true, runs: 200 },
        outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
      },
    }),
  ),
)
const artifact = output.contracts['RpcTestToken.sol'].RpcTestToken
const abi = artifact.abi
const bytecode = `0x${artifact.evm.bytecode.object}`

const chain = defineChain({
  id: CHAIN_ID,
  name: 'alys-test',
  nativeCurrency: { name: 'Bitcoin', symbol: 'BTC', decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL], webSocket: [WS_URL] } },
})
const client = createPublicClient({ chain, transport: http(RPC_URL), pollingInterval: 200 })
// A loaded machine can be slow to open the socket: a generous timeout, and every subscription
// error is recorded so that a failure says why.
const ws = createPublicClient({ chain, transport: webSocket(WS_URL, { timeout: 60_000 }) })
const wsErrors = []
const alice = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const bob = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const carol = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6')
const wallet = createWalletClient({ chain, transport: http(RPC_URL), account: alice })

// --- Chain basics and fees.
check((await client.getChainId()) === CHAIN_ID, 'getChainId')
const startBlock = await client.getBlockNumber()
check(startBlock >= 0n, `getBlockNumber (${startBlock})`)
const fees = await client.estimateFeesPerGas()
check(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas > 0n, 'estimateFeesPerGas')
check((await client.getGasPrice()) > 0n, 'getGasPrice')
const history = await client.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] })
check(history.baseFeePerGas.length === 5 && history.reward.length === 4, 'getFeeHistory')

// --- Watch new heads over WebSocket (eth_subscribe newHeads).
const heads = []
const unwatchBlocks = ws.watchBlocks({
  poll: false,
  onBlock: (b) => heads.push(b),
  onError: (e) => wsErrors.push(`newHeads: ${e.message}`),
})

// --- Deploy and use the token.
const deployHash = await wallet.deployContract({ abi, bytecode, args: [1_000_000n] })
const deployReceipt = await client.waitForTransactionReceipt({ hash: deployHash })
const token = deployReceipt.contractAddress
check(deployReceipt.status === 'success' && token, `deployContract at ${token}`)
check((await client.readContract({ address: token, abi, functionName: 'totalSupply' })) === 1_000_000n, 'readContract totalSupply')

// Follow Transfer logs over WebSocket (eth_subscribe logs).
const seen = []
const unwatchEvents = ws.watchContractEvent({
  address: token,
  abi,
  eventName: 'Transfer',
  poll: false,
  onLogs: (logs) => seen.push(...logs),
  onError: (e) => wsErrors.push(`logs: ${e.message}`),
})
// A polling filter too (eth_newFilter + eth_getFilterChanges).
const filter = await client.createContractEventFilter({ address: token, abi, eventName: 'Transfer' })
await new Promise((r) => setTimeout(r, 300))

const gas = await client.estimateContractGas({
  address: token,
  abi,
  functionName: 'transfer',
  args: [bob.address, 250n],
  account: alice,
})
const transferHash = await wallet.writeContract({ address: token, abi, functionName: 'transfer', args: [bob.address, 250n], gas })
const transferReceipt = await client.waitForTransactionReceipt({ hash: transferHash })
check(transferReceipt.status === 'success' && transferReceipt.gasUsed <= gas, `writeContract with estimated gas ${gas}`)
check(transferReceipt.logs.length === 1 && transferReceipt.logs[0].logIndex === 0, 'receipt logs')
check((await client.readContract({ address: token, abi, functionName: 'balanceOf', args: [bob.address] })) === 250n, 'balanceOf after transfer')

await withTimeout(
  (async () => { while (seen.length < 1) await new Promise((r) => setTimeout(r, 50)) })(),
  15000,
  'Transfer log over WebSocket',
).catch((e) => check(false, e.message))
check(seen.length === 1 && seen[0].args.to === bob.address && seen[0].args.value === 250n && seen[0].transactionHash === transferHash,
  'logs subscription delivered the Transfer', JSON.stringify({ seen, wsErrors }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)))
const changes = await client.getFilterChanges({ filter })
check(changes.length === 1 && changes[0].args.value === 250n, 'eth_getFilterChanges returned the Transfer')

const logs = await client.getContractEvents({ address: token, abi, eventName: 'Transfer', fromBlock: 0n })
check(logs.length === 2, 'getContractEvents: mint and transfer')
const toBob = await client.getLogs({
  address: token,
  event: parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)'),
  args: { to: bob.address },
  fromBlock: 0n,
})
check(toBob.length === 1, 'getLogs with an indexed argument')

// --- Reverts decoded by viem.
try {
  await client.simulateContract({ address: token, abi, functionName: 'transfer', args: [alice.address, 5n], account: carol })
  check(false, 'custom error revert')
} catch (e) {
  const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null
  check(revert?.data?.errorName === 'InsufficientBalance' && revert.data.args[0] === 0n && revert.data.args[1] === 5n,
    'custom error InsufficientBalance(0, 5) decoded by viem', String(e))
}
try {
  await client.simulateContract({ address: token, abi, functionName: 'failRequire', account: alice })
  check(false, 'require revert')
} catch (e) {
  const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null
  check(revert?.reason === 'always fails', 'require reason decoded by viem', String(e))
}
try {
  await client.estimateContractGas({ address: token, abi, functionName: 'divide', args: [1n, 0n], account: alice })
  check(false, 'panic revert')
} catch (e) {
  const revert = e instanceof BaseError ? e.walk((x) => x instanceof ContractFunctionRevertedError) : null
  check(revert?.data?.errorName === 'Panic' && revert.data.args[0] === 0x12n, 'panic code decoded by viem', String(e))
}

// --- eth_call with a state override.
const slot = keccak256(`0x${padHex(carol.address, { size: 32 }).slice(2)}${padHex('0x3', { size: 32 }).slice(2)}`)
const overridden = await client.call({
  to: token,
  data: encodeFunctionData({ abi, functionName: 'balanceOf', args: [carol.address] }),
  stateOverride: [{ address: token, stateDiff: [{ slot, value: padHex(numberToHex(77n), { size: 32 }) }] }],
})
check(hexToBigInt(overridden.data) === 77n, 'call with stateOverride')

// --- Plain transfers: EIP-1559 and legacy; pending nonce.
const nonce = await client.getTransactionCount({ address: alice.address, blockTag: 'pending' })
const t1 = await wallet.sendTransaction({ to: bob.address, value: 1000n })
const t2 = await wallet.sendTransaction({ to: bob.address, value: 1000n, type: 'legacy' })
check((await client.getTransactionCount({ address: alice.address, blockTag: 'pending' })) === nonce + 2, 'pending nonce counts pooled transactions')
const [r1, r2] = await Promise.all([t1, t2].map((hash) => client.waitForTransactionReceipt({ hash })))
check(r1.status === 'success' && r1.type === 'eip1559' && r1.gasUsed === 21000n, 'EIP-1559 transfer')
check(r2.status === 'success' && r2.type === 'legacy', 'legacy transfer')
const tx = await client.getTransaction({ hash: t1 })
check(tx.from === alice.address.toLowerCase() || tx.from.toLowerCase() === alice.address.toLowerCase(), 'getTransaction')

// --- eth_getProof verified against the state root.
const block = await client.getBlock({ blockTag: 'latest' })
const proof = await client.getProof({ address: token, storageKeys: [padHex('0x2', { size: 32 })], blockNumber: block.number })
const accountRlp = verifyProof(block.stateRoot, keccak256(token), proof.accountProof)
const fields = fromRlp(accountRlp, 'hex')
check(
  accountRlp !== null && hexToBigInt(fields[0] === '0x' ? '0x0' : fields[0]) === BigInt(proof.nonce) && fields[2] === proof.storageHash && fields[3] === proof.codeHash,
  'account proof verifies against the block state root',
)
const storageRlp = verifyProof(proof.storageHash, keccak256(padHex('0x2', { size: 32 })), proof.storageProof[0].proof)
check(storageRlp !== null && hexToBigInt(fromRlp(storageRlp, 'hex')) === 1_000_000n && proof.storageProof[0].value === 1_000_000n,
  'storage proof of totalSupply verifies')
const absent = await client.getProof({ address: '0x00000000000000000000000000000000000000ab', storageKeys: [], blockNumber: block.number })
check(verifyProof(block.stateRoot, keccak256('0x00000000000000000000000000000000000000ab'), absent.accountProof) === null,
  'exclusion proof of an absent account verifies')

// --- newHeads over WebSocket.
await withTimeout(
  (async () => { while (heads.length < 3) await new Promise((r) => setTimeout(r, 50)) })(),
  15000,
  'three new heads over WebSocket',
).catch((e) => check(false, e.message))
check(heads.length >= 3 && heads.every((h, i) => i === 0 || h.number === heads[i - 1].number + 1n), `newHeads subscription (${heads.length} heads, consecutive; errors: ${JSON.stringify(wsErrors)})`)
if (heads.length > 0) {
  const latest = await client.getBlock({ blockNumber: heads[0].number })
  check(latest.hash === heads[0].hash, 'newHeads hash matches eth_getBlockByNumber')
}

unwatchBlocks()
unwatchEvents()
await ws.transport.getRpcClient().then((c) => c.close())
if (failures > 0) {
  console.log(`viem: ${failures} check(s) failed`)
  process.exit(1)
}
console.log('viem: all checks passed')
process.exit(0)

// Merkle-Patricia proof check (EIP-1186): returns the RLP value at `key`, or null if the proof
// shows the key is absent; throws if the proof does not match `root`.
function verifyProof(root, key, proofNodes) {
  const nibbles = [...key.slice(2)].map((c) => parseInt(c, 16))
  let expected = root.toLowerCase()
  let pos = 0
  let node = null
  for (let i = 0; ; i++) {
    if (node === null) {
      const raw = proofNodes[i]
      if (raw === undefined) throw new Error('proof ended early')
      if (keccak256(raw).toLowerCase() !== expected) throw new Error(`node ${i} does not hash to ${expected}`)
      node = fromRlp(raw, 'hex')
    }
    if (node.length === 17) {
      if (pos === nibbles.length) return node[16] === '0x' ? null : node[16]
      const child = node[nibbles[pos++]]
      if (child === '0x') return null
      if (Array.isArray(child)) { node = child; i--; continue }
      expected = child.toLowerCase()
      node = null
      continue
    }
    if (node.length !== 2) throw new Error('malformed node')
    const path = [...node[0].slice(2)].map((c) => parseInt(c, 16))
    const isLeaf = path[0] >= 2
    const rest = path[0] % 2 === 1 ? path.slice(1) : path.slice(2)
    const matches = rest.every((n, j) => nibbles[pos + j] === n)
    if (isLeaf) return matches && pos + rest.length === nibbles.length ? node[1] : null
    if (!matches) return null
    pos += rest.length
    if (Array.isArray(node[1])) { node = node[1]; i--; continue }
    expected = node[1].toLowerCase()
    node = null
  }
}
