/* store-prune.c: being written */
