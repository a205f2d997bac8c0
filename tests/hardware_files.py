"""Small hardware descriptions with round numbers, for tests that price layers by hand."""

HANDCHIP = """
[model]
name = "handchip"
clock_mhz = 100

[array]
dims = ["D1", "D2"]
sizes = [2, 2]
unroll = ["K", "C"]

[[compute]]
format = "int8"
action = "mult"
energy_pj = 1.0
source = "round number"

[[compute]]
format = "int8"
action = "add"
energy_pj = 0.5
source = "round number"

[[level]]
name = "rf_w"
operands = ["W"]
size_bits = 8
word_bits = 8
read_energy_pj = 0.1
write_energy_pj = 0.2
source = "one 8-bit weight register per PE"

[[level]]
name = "sram"
operands = ["W", "I", "O"]
size_kib = 1
word_bits = 64
min_bits = 8
bandwidth_bits = 64
served_dims = ["D1", "D2"]
read_energy_pj = 6.4
write_energy_pj = 12.8
source = "round number"

[[level]]
name = "dram"
operands = ["W", "I", "O"]
size_bits = inf
word_bits = 64
min_bits = 8
bandwidth_bits = 64
served_dims = ["D1", "D2"]
read_energy_pj = 64.0
write_energy_pj = 128.0
source = "round number"
"""

DRAM_ONLY = """
[model]
name = "dramonly"
clock_mhz = 100

[array]
dims = ["D1"]
sizes = [1]
unroll = ["K"]

[[compute]]
format = "int8"
action = "mult"
energy_pj = 1.0
source = "round number"

[[compute]]
format = "int8"
action = "add"
energy_pj = 0.0
source = "round number: additions free, so that only MACs, multiplications and DRAM traffic cost"

[[level]]
name = "sram"
operands = ["W", "I", "O"]
size_kib = 1024
word_bits = 8
bandwidth_bits = 64
served_dims = ["D1"]
read_energy_pj = 0.0
source = "free, large enough for every tensor of the test"

[[level]]
name = "dram"
operands = ["W", "I", "O"]
size_bits = inf
word_bits = 8
bandwidth_bits = 64
served_dims = ["D1"]
read_energy_pj = 1.0
write_energy_pj = 2.0
source = "round numbers: 1 pJ per 8-bit read, 2 pJ per 8-bit write"
"""

# Separate weight, input and output SRAMs (no level holds two operands), for units routed by operand.
SEPARATE_BUFFERS = """
[model]
name = "separate"
clock_mhz = 100

[array]
dims = ["D1"]
sizes = [1]
unroll = ["K"]

[[compute]]
format = "int8"
action = "mult"
energy_pj = 1.0
source = "round number"

[[compute]]
format = "int8"
action = "add"
energy_pj = 0.5
source = "round number"

[[level]]
name = "sram_w"
operands = ["W"]
size_kib = 1
word_bits = 8
bandwidth_bits = 8
served_dims = ["D1"]
read_energy_pj = 1.0
source = "round number"

[[level]]
name = "sram_i"
operands = ["I"]
size_kib = 1
word_bits = 8
bandwidth_bits = 8
served_dims = ["D1"]
read_energy_pj = 2.0
write_energy_pj = 3.0
source = "round number"

[[level]]
name = "sram_o"
operands = ["O"]
size_kib = 1
word_bits = 8
bandwidth_bits = 8
served_dims = ["D1"]
read_energy_pj = 4.0
write_energy_pj = 5.0
source = "round number"

[[level]]
name = "dram"
operands = ["W", "I", "O"]
size_bits = inf
word_bits = 8
bandwidth_bits = 8
served_dims = ["D1"]
read_energy_pj = 10.0
write_energy_pj = 20.0
source = "round number"
"""
