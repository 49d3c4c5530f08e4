// Supplies std::ios_base_library_init(), which GCC 13 emits and GCC 12's libstdc++ lacks.
#include <ios>
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
