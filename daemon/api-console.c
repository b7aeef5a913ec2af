/* api-console.c: being written */
