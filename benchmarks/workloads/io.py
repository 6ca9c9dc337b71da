"""I/O workloads (sockets): registered here once written."""
