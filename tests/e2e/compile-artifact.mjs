// Regenerates crates/evm/tests/support/RpcTestToken.json (ABI and bytecode used by the Rust RPC
// tests) from contracts/RpcTestToken.sol with solc-js: `node tests/e2e/compile-artifact.mjs`.
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'

const require = createRequire(import.meta.url)
const solc = require('solc')
const source = readFileSync(new URL('./contracts/RpcTestToken.sol', import.meta.url), 'utf8')
const out = JSON.parse(
  solc.compile(
    JSON.stringify({
      language: 'Solidity',
      sources: { 'RpcTestToken.sol': { content: source } },
      settings: {
        evmVersion: 'cancun',
        optimizer: { enabled: true, runs: 200 },
        outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
      },
    }),
  ),
)
for (const e of out.errors ?? []) if (e.severity === 'error') throw new Error(e.formattedMessage)
const c = out.contracts['RpcTestToken.sol'].RpcTestToken
const artifact = {
  abi: c.abi,
  bytecode: `0x${c.evm.bytecode.object}`,
  deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
}
const target = new URL('../../crates/evm/tests/support/RpcTestToken.json', import.meta.url)
writeFileSync(target, `${JSON.stringify(artifact)}\n`)
console.log(`wrote ${target.pathname} (solc ${solc.version()})`)
