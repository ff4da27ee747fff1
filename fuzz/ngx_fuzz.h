
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_FUZZ_H_INCLUDED_
#define _NGX_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a property the module promises did not hold: libFuzzer keeps the input */
#define ngx_fuzz_assert(cond, what)                                           \
    if (!(cond)) {                                                            \
        fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, what);       \
        abort();                                                              \
    }


void ngx_fuzz_init(void);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#endif /* _NGX_FUZZ_H_INCLUDED_ */
