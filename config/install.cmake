# What `cmake --install` (and the Debian package) puts where.
# Directories follow GNUInstallDirs; systemd's own come from its pkg-config
# file when installing under /usr, else under the prefix (a scratch
# install never writes outside it).
install(TARGETS fieldsync fieldsyncd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

pkg_get_variable(FSY_PC_UNITDIR systemd systemdsystemunitdir)
pkg_get_variable(FSY_PC_SYSUSERSDIR systemd sysusersdir)
pkg_get_variable(FSY_PC_TMPFILESDIR systemd tmpfilesdir)
pkg_get_variable(FSY_PC_COMPLETIONSDIR bash-completion completionsdir)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  unset(FSY_PC_UNITDIR)
  unset(FSY_PC_SYSUSERSDIR)
  unset(FSY_PC_TMPFILESDIR)
  unset(FSY_PC_COMPLETIONSDIR)
endif()
macro(fsy_dir var pc fallback)
  if(${pc})
    set(${var} "${${pc}}" CACHE PATH "")
  else()
    set(${var} "${fallback}" CACHE PATH "")
  endif()
endmacro()
fsy_dir(FSY_UNITDIR FSY_PC_UNITDIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
fsy_dir(FSY_SYSUSERSDIR FSY_PC_SYSUSERSDIR ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d)
fsy_dir(FSY_TMPFILESDIR FSY_PC_TMPFILESDIR ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d)
fsy_dir(FSY_COMPLETIONSDIR FSY_PC_COMPLETIONSDIR
        ${CMAKE_INSTALL_FULL_DATADIR}/bash-completion/completions)

set(FSY_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
configure_file(${CMAKE_CURRENT_LIST_DIR}/fieldsyncd.service.in
               ${CMAKE_BINARY_DIR}/fieldsyncd.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/fieldsyncd.service DESTINATION ${FSY_UNITDIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/fieldsync.sysusers
        DESTINATION ${FSY_SYSUSERSDIR} RENAME fieldsync.conf)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/fieldsync.tmpfiles
        DESTINATION ${FSY_TMPFILESDIR} RENAME fieldsync.conf)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/fieldsync.bash-completion
        DESTINATION ${FSY_COMPLETIONSDIR} RENAME fieldsync)

file(GLOB FSY_EXAMPLE_CONFS ${CMAKE_CURRENT_LIST_DIR}/*.conf)
install(FILES ${FSY_EXAMPLE_CONFS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(PROGRAMS ${CMAKE_CURRENT_LIST_DIR}/alert-mail.sh
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
file(GLOB FSY_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${FSY_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})
