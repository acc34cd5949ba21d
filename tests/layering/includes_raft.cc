// Compiles only with an include view that holds both raft and base.
#include "base/status.h"
#include "raft/types.h"

int main() {
  return 0;
}
