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
