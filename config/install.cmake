# What `cmake --install` (and the Debian package) puts where. Every
# directory is relative to the install prefix unless a packager sets it
# (debian/rules: FSY_UNITDIR=/lib/systemd/system), so a scratch install
# (--prefix, DESTDIR) never writes outside its prefix.
install(TARGETS fieldsync fieldsyncd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(FSY_UNITDIR lib/systemd/system CACHE STRING "where the systemd unit goes")
set(FSY_SYSUSERSDIR lib/sysusers.d CACHE STRING "where the sysusers.d entry goes")
set(FSY_TMPFILESDIR lib/tmpfiles.d CACHE STRING "where the tmpfiles.d entry goes")
set(FSY_COMPLETIONSDIR ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
    CACHE STRING "where the bash completion goes")

# The unit names the programs where they are installed: configured at
# install time, when the prefix is known (--prefix may change it).
set(FSY_UNIT_IN ${CMAKE_CURRENT_LIST_DIR}/fieldsyncd.service.in)
set(FSY_UNIT_OUT ${CMAKE_BINARY_DIR}/fieldsyncd.service)
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  set(FSY_UNIT_BINDIR "${CMAKE_INSTALL_BINDIR}")
else()
  set(FSY_UNIT_BINDIR "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}")
endif()
install(CODE "
  set(FSY_BINDIR \"${FSY_UNIT_BINDIR}\")
  set(FSY_DEFAULT_CONFIG \"${FSY_DEFAULT_CONFIG}\")
  configure_file(\"${FSY_UNIT_IN}\" \"${FSY_UNIT_OUT}\" @ONLY)")
install(FILES ${FSY_UNIT_OUT} DESTINATION ${FSY_UNITDIR})
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
