from stages.lib.numerics import pin_cpu_numerics

pin_cpu_numerics()  # before anything imports torch: same floats on every x86-64 CPU
