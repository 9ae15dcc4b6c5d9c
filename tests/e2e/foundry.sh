#!/usr/bin/env bash
# End-to-end with Foundry (forge 1.7.1, cast 1.7.1 from npm) against a running Alys execution
# client: deploy an ERC-20 with `forge create`, transfer with `cast send`, read with `cast call`,
# `cast estimate`, `cast receipt`, decode a custom-error revert, query logs, replay with
# `cast run`, access lists, proofs, legacy transactions.
#
# Needs RPC_URL (blocks must be produced meanwhile, e.g. by crates/evm/tests/eth_e2e.rs) and the
# clients of tests/e2e/setup.sh. Exits non-zero on the first failed check.
set -euo pipefail
cd "$(dirname "$0")"
# The npm launchers (node_modules/.bin) do not pass exit codes on: call the native binaries.
native() {
  local c
  for c in node_modules/@foundry-rs/"$1"-*/bin/"$1"; do
    [ -x "$c" ] && { echo "$PWD/$c"; return; }
  done
  echo "no native $1 under node_modules/@foundry-rs (run setup.sh)" >&2
  exit 1
}
CAST="$(native cast)"
FORGE="$(native forge)"
cast() { "$CAST" "$@"; }
forge() { "$FORGE" "$@"; }
: "${RPC_URL:?RPC_URL must point at the node}"
RPC="$RPC_URL"
# Accounts 0, 1 and 3 of the `test test … junk` mnemonic (funded in the test genesis).
PK0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
A0=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
PK1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
A1=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
PK3=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
A3=0x90F79bf6EB2c4f870365E785982E1f101E93b906

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; pass "$3"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }

expect_eq "$(cast chain-id -r "$RPC")" "${CHAIN_ID:-263634}" "cast chain-id"
[ "$(cast block-number -r "$RPC")" -ge 0 ] && pass "cast block-number" || fail "cast block-number"
[[ "$(cast client -r "$RPC")" == alys-el/* ]] && pass "cast client" || fail "cast client"
[ "$(cast gas-price -r "$RPC")" -gt 0 ] && pass "cast gas-price" || fail "cast gas-price"

# forge create, compiling with solc-js through the wrapper.
project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT
mkdir -p "$project/src"
cp contracts/RpcTestToken.sol "$project/src/"
printf '[profile.default]\nsrc = "src"\nout = "out"\nevm_version = "cancun"\n' >"$project/foundry.toml"
created="$(forge create --root "$project" src/RpcTestToken.sol:RpcTestToken \
  --rpc-url "$RPC" --private-key "$PK0" --broadcast \
  --use "$PWD/solc-wrapper.sh" --offline --json --constructor-args 1000000)"
TOKEN="$(echo "$created" | json "d['deployedTo']")"
DEPLOY_TX="$(echo "$created" | json "d['transactionHash']")"
[ -n "$TOKEN" ] && pass "forge create deployed RpcTestToken at $TOKEN" || fail "forge create deployed RpcTestToken at $TOKEN"
expect_eq "$(cast receipt "$DEPLOY_TX" status -r "$RPC")" "true" "cast receipt status of the deployment"
expect_eq "$(cast receipt "$DEPLOY_TX" contractAddress -r "$RPC" | tr 'A-F' 'a-f')" "$(echo "$TOKEN" | tr 'A-F' 'a-f')" "receipt contractAddress"
expect_eq "$(cast call "$TOKEN" 'totalSupply()(uint256)' -r "$RPC" | cut -d' ' -f1)" "1000000" "cast call totalSupply"
expect_eq "$(cast call "$TOKEN" 'symbol()(string)' -r "$RPC")" '"TST"' "cast call symbol"

# cast estimate, then cast send with exactly that gas limit.
estimate="$(cast estimate "$TOKEN" 'transfer(address,uint256)' "$A1" 250 --from "$A0" -r "$RPC")"
[ "$estimate" -gt 21000 ] && pass "cast estimate: $estimate" || fail "cast estimate: $estimate"
sent="$(cast send "$TOKEN" 'transfer(address,uint256)' "$A1" 250 --gas-limit "$estimate" \
  -r "$RPC" --private-key "$PK0" --json)"
expect_eq "$(echo "$sent" | json "d['status']")" "0x1" "cast send transfer with the estimated gas"
TX="$(echo "$sent" | json "d['transactionHash']")"
expect_eq "$(cast call "$TOKEN" 'balanceOf(address)(uint256)' "$A1" -r "$RPC" | cut -d' ' -f1)" "250" "cast call balanceOf after transfer"

# cast receipt: logs with indices, gas, effective price.
receipt="$(cast receipt "$TX" -r "$RPC" --json)"
expect_eq "$(echo "$receipt" | json "len(d['logs'])")" "1" "receipt has one log"
expect_eq "$(echo "$receipt" | json "d['logs'][0]['topics'][0]")" \
  "$(cast keccak 'Transfer(address,address,uint256)')" "log topic is Transfer"
expect_eq "$(echo "$receipt" | json "d['logs'][0]['logIndex']")" "0x0" "logIndex"
[ "$(echo "$receipt" | json "int(d['gasUsed'], 16)")" -le "$estimate" ] && pass "gasUsed <= estimate" || fail "gasUsed <= estimate"
[ "$(echo "$receipt" | json "int(d['effectiveGasPrice'], 16)")" -gt 0 ] && pass "effectiveGasPrice" || fail "effectiveGasPrice"
expect_eq "$(cast tx "$TX" from -r "$RPC" | tr 'A-F' 'a-f')" "$(echo "$A0" | tr 'A-F' 'a-f')" "cast tx from"

# A custom-error revert: Geth's code 3 and data, decoded by cast.
set +e
out="$(cast call "$TOKEN" 'transfer(address,uint256)' "$A0" 5 --from "$A3" -r "$RPC" 2>&1)"
status=$?
set -e
[ $status -ne 0 ] || fail "custom error call should fail"
echo "$out" | grep -q 'execution reverted' || fail "no 'execution reverted' in: $out"
data="$(echo "$out" | grep -o '0x[0-9a-f]\{8,\}' | head -1)"
decoded="$(cast decode-error --sig 'InsufficientBalance(uint256,uint256)' "$data" | tr '\n' ' ')"
expect_eq "$decoded" "0 5 " "custom error InsufficientBalance(0, 5) decoded"
set +e
out="$(cast call "$TOKEN" 'failRequire()' -r "$RPC" 2>&1)"
set -e
echo "$out" | grep -q 'execution reverted: always fails' && pass "require reason in the error" || fail "require reason in the error"
set +e
out="$(cast send "$TOKEN" 'transfer(address,uint256)' "$A0" 5 -r "$RPC" --private-key "$PK3" 2>&1)"
status=$?
set -e
[ $status -ne 0 ] && echo "$out" | grep -q 'execution reverted' && pass "cast send refuses a reverting transfer at estimation" || fail "cast send refuses a reverting transfer at estimation"

# Logs.
logs="$(cast logs --from-block 0 --address "$TOKEN" 'Transfer(address indexed,address indexed,uint256)' -r "$RPC" --json)"
expect_eq "$(echo "$logs" | json "len(d)")" "2" "cast logs: mint and transfer"
to_logs="$(cast logs --from-block 0 --address "$TOKEN" 'Transfer(address indexed,address indexed,uint256)' '' "$A1" -r "$RPC" --json)"
expect_eq "$(echo "$to_logs" | json "len(d)")" "1" "cast logs filtered by indexed recipient"

# Access list, legacy transaction, pending nonce, replay, proof, fee history.
al="$(cast access-list "$TOKEN" 'transfer(address,uint256)' "$A1" 1 --from "$A0" -r "$RPC")"
grep -qi "${TOKEN}" <<<"$al" && pass "cast access-list names the token" || fail "cast access-list names the token"
legacy="$(cast send "$A1" --value 12345 --legacy -r "$RPC" --private-key "$PK0" --json)"
expect_eq "$(echo "$legacy" | json "d['type']")" "0x0" "legacy transaction mined"
expect_eq "$(cast nonce "$A0" -B pending -r "$RPC")" "$(cast nonce "$A0" -r "$RPC")" "pending nonce equals latest when the pool is empty"
replay="$(cast run "$TX" -r "$RPC" 2>&1)"
grep -q 'Transaction successfully executed' <<<"$replay" && pass "cast run replays the transfer" || fail "cast run replays the transfer"
proof="$(cast proof "$TOKEN" 0x2 -r "$RPC")"
expect_eq "$(echo "$proof" | json "int(d['storageProof'][0]['value'], 16)")" "1000000" "cast proof of totalSupply"
history="$(cast rpc eth_feeHistory 4 latest '[25,75]' -r "$RPC")"
expect_eq "$(echo "$history" | json "len(d['baseFeePerGas'])")" "5" "eth_feeHistory via cast rpc"
echo "foundry: all checks passed"
