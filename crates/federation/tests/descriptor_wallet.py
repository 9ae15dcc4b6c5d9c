"""Independent check: derive addresses from descriptors with embit (a descriptor wallet
library no one here wrote). Reads lines "<network> <descriptor>" on stdin, prints one
address per line. The descriptor checksum is verified by embit."""
import sys

from embit.descriptor import Descriptor
from embit.networks import NETWORKS

NET = {"bitcoin": "main", "testnet": "test", "signet": "signet", "regtest": "regtest"}

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    net, desc = line.split(" ", 1)
    d = Descriptor.from_string(desc)
    print(d.address(NETWORKS[NET[net]]))
