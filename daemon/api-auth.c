/* api-auth.c: being written */
