# usher_embed(): compiles data files into a target, so a daemon carries its defaults, its
# migrations and its templates and needs no file at run time. The one way to embed.
#
# usher_embed(<target> <symbol> FILE <file>)
#   const char <symbol>[]: the file's bytes and a NUL; const size_t <symbol>_len.
#
# usher_embed(<target> <symbol> DIR <dir> [GLOB <pattern>] TYPE <c type> HEADER <header>
#             [STEM] [MATCH <regex>])
#   const <c type> <symbol>[]: one {name, data, len} per file of <dir> matching <pattern>
#   (default *), sorted by name, then {0, 0, 0}. <c type>, declared in <header>, starts with
#   const char *name, const char *data (NUL-terminated), size_t len. name is the file's
#   name, without its extension with STEM; MATCH refuses, at build time, a name (as
#   written into the table) that does not match <regex>.
#
# Bytes are written as hex (cmake/embed.cmake), so no escaping questions arise.
set(USHER_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})
# Migration files are NNNN_title.sql (common/migrate.h): usher_embed(... MATCH ${USHER_MIGRATION_NAME}).
set(USHER_MIGRATION_NAME "^[0-9][0-9][0-9][0-9]_[a-z0-9_]+$")

function(usher_embed target symbol)
  cmake_parse_arguments(E "STEM" "FILE;DIR;GLOB;TYPE;HEADER;MATCH" "" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  if(E_FILE)
    set(files ${E_FILE})
    set(args -DMODE=file)
  elseif(E_DIR AND E_TYPE AND E_HEADER)
    if(NOT E_GLOB)
      set(E_GLOB *)
    endif()
    file(GLOB files CONFIGURE_DEPENDS ${E_DIR}/${E_GLOB})
    list(SORT files)
    set(args -DMODE=table -DTYPE=${E_TYPE} -DHEADER=${E_HEADER} -DSTEM=${E_STEM}
        "-DMATCH=${E_MATCH}")
  else()
    message(FATAL_ERROR "usher_embed(${target} ${symbol}): give FILE, or DIR with TYPE and HEADER")
  endif()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DSYMBOL=${symbol} -DOUT=${out} "-DFILES=${files}" ${args}
            -P ${USHER_CMAKE_DIR}/embed.cmake
    DEPENDS ${files} ${USHER_CMAKE_DIR}/embed.cmake
    COMMENT "embedding ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
