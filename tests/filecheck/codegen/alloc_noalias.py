# RUN: cofactor ir %s:copy --signature "f64[:]" --stage llvm | filecheck %s

# Arrays allocated by compiled code come from the runtime's cofactor_alloc,
# which is malloc-like (`noalias` result) and never inlined, so each call stays
# an allocation that alias analysis tells apart from every other array.
import numpy as np


def copy(x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        y[i] = x[i]
    return y

# CHECK-LABEL: define internal {ptr, [1 x i64], [1 x i64]} @"copy"
# CHECK:         call ccc ptr @"cofactor_alloc"(ptr
# CHECK:       define internal noalias ptr @"cofactor_alloc"(ptr %".1", i64 %".2") noinline
# CHECK-NEXT:  {
# CHECK-NEXT:  entry:
# CHECK-NEXT:    %[[N:.*]] = add i64 %".2", 64
# CHECK-NEXT:    %[[BLOCK:.*]] = call ptr @"malloc"(i64 %[[N]])
