// The README's first example: a set of breakers and one peer that is down.
#include <iostream>
#include <stdexcept>

#include "circuit/circuit.h"

int main() {
  circuit::CircuitBreakerSet set;  // opens on the 4th failure within 60 s
  for (int i = 1; i <= 5; ++i) {
    try {
      circuit::Context ctx = set.context("db-1");      // admits, or throws
      throw std::runtime_error("connection refused");  // escapes: a failure
    } catch (const circuit::CircuitOpenError& e) {     // not attempted
      absl::Duration wait = absl::Ceil(e.retry_after(), absl::Seconds(1));
      std::cout << i << ": rejected, " << e.peer() << " is open for another "
                << absl::FormatDuration(wait) << "\n";
    } catch (const std::runtime_error& e) {  // attempted, and it failed
      std::cout << i << ": " << e.what() << ", db-1 is " << set.state("db-1")
                << "\n";
    }
  }
  // The same decision without exceptions; every peer is independent.
  absl::StatusOr<circuit::Context> db1 = set.try_context("db-1");
  std::cout << db1.status() << "\n";
  absl::StatusOr<circuit::Context> db2 = set.try_context("db-2");
  if (db2.ok()) db2->succeed();  // settle now (its destructor would, too)
  std::cout << "db-2 is " << set.state("db-2") << "\n";
}
