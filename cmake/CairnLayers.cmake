# One static library per layer of cpp/, and the rule that dependencies point down.
#
# Each layer compiles against an include "view": a directory in the build tree holding a
# link to its own folder and to the folders of the layers it declares (transitively), and
# nothing else. So `#include "storage/log_store.h"` from cpp/raft fails to compile unless
# raft declares storage as a dependency, and CMake refuses a dependency cycle.

set(CAIRN_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wimplicit-fallthrough -Wold-style-cast)
if(CAIRN_WERROR)
  list(APPEND CAIRN_WARNINGS -Werror)
endif()

# cairn_set_warnings(target): Cairn's own warning set; never used on generated code.
function(cairn_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${CAIRN_WARNINGS}>)
endfunction()

# cairn_layer(NAME name SOURCES ... [LAYERS lower layers] [DEPS other link targets])
function(cairn_layer)
  cmake_parse_arguments(L "" "NAME" "SOURCES;LAYERS;DEPS" ${ARGN})
  set(view ${CMAKE_BINARY_DIR}/layer_views/${L_NAME})
  set(visible ${L_NAME})
  foreach(dep IN LISTS L_LAYERS)
    get_property(dep_visible GLOBAL PROPERTY CAIRN_LAYER_VISIBLE_${dep})
    if(NOT dep_visible)
      message(FATAL_ERROR "layer ${L_NAME}: layer ${dep} must be defined before it")
    endif()
    list(APPEND visible ${dep_visible})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_property(GLOBAL PROPERTY CAIRN_LAYER_VISIBLE_${L_NAME} ${visible})

  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(v IN LISTS visible)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/cpp/${v} ${view}/${v} SYMBOLIC)
  endforeach()

  set(target cairn_${L_NAME})
  add_library(${target} STATIC ${L_SOURCES})
  target_include_directories(${target} PUBLIC ${view})
  set(links)
  foreach(dep IN LISTS L_LAYERS)
    list(APPEND links cairn_${dep})
  endforeach()
  target_link_libraries(${target} PUBLIC ${links} ${L_DEPS})
  cairn_set_warnings(${target})
endfunction()

# cairn_test(NAME name SOURCES ... LIBS ...): a GoogleTest binary registered with ctest.
function(cairn_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  cairn_set_warnings(${T_NAME})
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60)
endfunction()
