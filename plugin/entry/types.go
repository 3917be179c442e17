package entry

// Record type numbers this package gives a meaning to (linux/audit.h, libaudit.h).
const (
	tUserAuth        = 1100
	tUserAcct        = 1101
	tUserMgmt        = 1102
	tCredAcq         = 1103
	tCredDisp        = 1104
	tUserStart       = 1105
	tUserEnd         = 1106
	tUserAvc         = 1107
	tUserChauthtok   = 1108
	tUserErr         = 1109
	tCredRefr        = 1110
	tUsysConfig      = 1111
	tUserLogin       = 1112
	tUserLogout      = 1113
	tAddUser         = 1114
	tDelUser         = 1115
	tAddGroup        = 1116
	tDelGroup        = 1117
	tChgrpID         = 1119
	tUserSelinuxErr  = 1122
	tUserCmd         = 1123
	tUserTTY         = 1124
	tChuserID        = 1125
	tGrpAuth         = 1126
	tSystemBoot      = 1127
	tSystemShutdown  = 1128
	tSystemRunlevel  = 1129
	tServiceStart    = 1130
	tServiceStop     = 1131
	tGrpMgmt         = 1132
	tGrpChauthtok    = 1133
	tAcctLock        = 1135
	tAcctUnlock      = 1136
	tSoftwareUpdate  = 1138
	tDaemonStart     = 1200
	tDaemonEnd       = 1201
	tDaemonAbort     = 1202
	tDaemonConfig    = 1203
	tDaemonReconfig  = 1204
	tDaemonErr       = 1209
	tSyscall         = 1300
	tPath            = 1302
	tIPC             = 1303
	tSocketcall      = 1304
	tConfigChange    = 1305
	tSockaddr        = 1306
	tCwd             = 1307
	tExecve          = 1309
	tIPCSetPerm      = 1311
	tMqOpen          = 1312
	tMqSendrecv      = 1313
	tMqNotify        = 1314
	tMqGetsetattr    = 1315
	tFdPair          = 1317
	tObjPID          = 1318
	tTTY             = 1319
	tEOE             = 1320
	tBprmFcaps       = 1321
	tCapset          = 1322
	tMmap            = 1323
	tProctitle       = 1327
	tFeatureChange   = 1328
	tKernModule      = 1330
	tAvc             = 1400
	tSelinuxErr      = 1401
	tAvcPath         = 1402
	tMacPolicyLoad   = 1403
	tMacStatus       = 1404
	tMacConfigChange = 1405
	tApparmorAllowed = 1502
	tApparmorDenied  = 1503
	tApparmorStatus  = 1505
	tApparmorError   = 1506
	tApparmorKill    = 1507
	tAnomFirst       = 1700 // kernel anomalies: ANOM_PROMISCUOUS, ANOM_ABEND, ANOM_LINK, ANOM_CREAT
	tAnomPromiscuous = 1700
	tAnomAbend       = 1701
	tAnomLast        = 1799
	tIntegrityFirst  = 1800 // IMA/EVM: INTEGRITY_DATA ... INTEGRITY_POLICY_RULE
	tIntegrityLast   = 1899
	tUserAnomFirst   = 2100 // user-space anomalies (ANOM_LOGIN_FAILURES, ...) and
	tUserAnomLast    = 2299 // the responses to them (RESP_*)
	tUserRoleChange  = 2300
	tRoleAssign      = 2301
	tRoleRemove      = 2302
	tLabelOverride   = 2303
	tLabelLevelChg   = 2304
	tFsRelabel       = 2309
	tUserMacPolicy   = 2310
	tRoleModify      = 2311
	tUserMacConfig   = 2312
	tUserMacStatus   = 2313
	tCryptoFirst     = 2400
	tCryptoFailure   = 2405
	tCryptoReplay    = 2406
	tCryptoLast      = 2499
)

// auxiliary reports types that only describe part of a syscall event (the object, the
// arguments, the end marker); the event's main type is the first record that is not one.
func auxiliary(t uint16) bool {
	switch t {
	case tSyscall, tPath, tIPC, tSocketcall, tSockaddr, tCwd, tExecve, tIPCSetPerm, tMqOpen,
		tMqSendrecv, tMqNotify, tMqGetsetattr, tFdPair, tObjPID, tEOE, tBprmFcaps, tCapset,
		tMmap, tProctitle, tAvcPath:
		return true
	}
	return false
}
