"""The block layout every evaluator shares: input bit planes (64 vectors per uint64 word, circuits.bitplanes)
are cut into blocks of words, and flip streams are keyed by chunks of blocks."""

B = 8  # words per block of the flip kernel, the interpreter and the campaign: 512 vectors
CLEAN_B = 32  # words per block of the fault-free straight-line kernel: 2,048 vectors (measured fastest)
WORDS = 32  # input planes are padded to a multiple of this many words (a multiple of B and CLEAN_B)
CHUNK_BLOCKS = 64  # blocks of B words per parallel task (and per flip stream): 32,768 vectors
