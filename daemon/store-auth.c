/* store-auth.c: being written */
