// Compiles contracts/src/*.sol with solc-js and writes contracts/artifacts/<Name>.json
// ({compiler, bytecode, deployedBytecode}).
const solc = require('solc');
const fs = require('fs');
const path = require('path');
const root = process.argv[2];
const srcDir = path.join(root, 'contracts/src');
const sources = {};
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol'))) {
  sources[f] = { content: fs.readFileSync(path.join(srcDir, f), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of out.errors || []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);
for (const file of Object.keys(out.contracts)) {
  for (const [name, c] of Object.entries(out.contracts[file])) {
    const artifact = {
      compiler: 'solc ' + solc.version(),
      source: 'contracts/src/' + file,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(root, 'contracts/artifacts', name + '.json'), JSON.stringify(artifact, null, 2) + '\n');
    console.log('wrote contracts/artifacts/' + name + '.json');
  }
}
