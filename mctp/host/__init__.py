# Buses for the host (tests, tools, simulations); never frozen into a board image: loopback
# (stacks in one process), i2c_sim (an in-memory I2C bus with fault injection) and i2c_udp (an
# I2C bus over UDP in pymctp's QEMU exerciser format; it imports socket).
