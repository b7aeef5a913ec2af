/* loaxa console: a small single page over loaxad's JSON API (docs/api.md,
 * docs/console.md). No framework, no CDN, no inline script or style (the
 * daemon's Content-Security-Policy forbids them).
 *
 * - Every request goes to /v1/... with credentials 'same-origin' (the
 *   loaxa_session cookie) and, when it is not a GET, the X-CSRF-Token
 *   header from /v1/login or /v1/me.
 * - Text is always set with textContent / text nodes, never innerHTML:
 *   names, addresses and messages come from villagers and providers.
 * - Vietnamese by default, English switchable; every string is in STR.
 * - Hash routes: #/groups, #/groups/2A, #/meeting/new, #/notice/new,
 *   #/broadcasts, #/broadcasts/12, #/broadcasts/12/not-reached,
 *   #/channels, #/audit, #/approvals, #/users.
 */
'use strict';

(function () {

/* ---- strings ---- */

const STR = {
vi: {
	'app.name': 'loaxa',
	'skip': 'Bỏ qua, đến nội dung chính',
	'lang.switch': 'English',
	'lang.switch.code': 'en',
	'nav.label': 'Các trang',
	'nav.groups': 'Nhóm dân cư',
	'nav.meeting': 'Lịch họp mới',
	'nav.notice': 'Thông báo mới',
	'nav.broadcasts': 'Tin đã gửi',
	'nav.approvals': 'Chờ duyệt',
	'nav.channels': 'Kênh gửi',
	'nav.audit': 'Nhật ký',
	'nav.users': 'Tài khoản',
	'logout': 'Đăng xuất',
	'loading': 'Đang tải…',
	'role.admin': 'quản trị',
	'role.official': 'cán bộ',
	'role.manager': 'tổ trưởng',
	'err.network': 'Không kết nối được tới máy chủ loaxa. Kiểm tra mạng rồi thử lại.',
	'err.http': 'Máy chủ trả lời lỗi {0}.',
	'err.session': 'Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.',
	'err.retry_after': 'Thử lại sau {0} giây.',
	'err.fields': 'Các mục cần sửa:',
	'err.notfound': 'Không có trang này.',
	'err.forbidden': 'Bạn không có quyền xem trang này.',
	'login.title': 'Đăng nhập',
	'login.intro': 'Trang quản lý danh sách hộ và gửi thông báo của xã.',
	'login.user': 'Tên đăng nhập',
	'login.password': 'Mật khẩu',
	'login.submit': 'Đăng nhập',
	'login.busy': 'Đang đăng nhập…',
	'groups.title': 'Nhóm dân cư',
	'groups.code': 'Mã',
	'groups.name': 'Tên nhóm',
	'groups.households': 'Số hộ',
	'groups.none': 'Chưa có nhóm nào.',
	'groups.export_all': 'Tải danh sách tất cả các hộ (CSV)',
	'group.refused': 'Bạn không được xem nhóm này.',
	'group.households': '{0} hộ',
	'group.search': 'Tìm theo tên, địa chỉ hoặc số điện thoại',
	'group.search.button': 'Tìm',
	'group.add': 'Thêm hộ',
	'group.export': 'Tải danh sách (CSV)',
	'group.more': 'Xem thêm',
	'group.none': 'Không có hộ nào.',
	'hh.name': 'Chủ hộ',
	'hh.phones': 'Số điện thoại',
	'hh.phones.help': 'Nhiều số cách nhau bằng dấu phẩy.',
	'hh.address': 'Địa chỉ',
	'hh.note': 'Ghi chú',
	'hh.status': 'Nhận tin',
	'hh.actions': 'Thao tác',
	'hh.opted_out': 'Từ chối nhận tin',
	'hh.active': 'Có',
	'hh.edit': 'Sửa',
	'hh.edit.label': 'Sửa hộ {0}',
	'hh.opt_out': 'Ngừng gửi',
	'hh.opt_out.label': 'Ngừng gửi tin cho hộ {0}',
	'hh.opt_in': 'Gửi lại',
	'hh.opt_in.label': 'Gửi tin lại cho hộ {0}',
	'hh.form.add': 'Thêm hộ mới',
	'hh.form.edit': 'Sửa thông tin hộ',
	'hh.save': 'Lưu',
	'hh.cancel': 'Thôi',
	'hh.saved': 'Đã lưu hộ {0}.',
	'import.title': 'Nhập danh sách từ tệp CSV',
	'import.help': 'Tệp CSV (UTF-8) có dòng tiêu đề. Cột bắt buộc: ho_ten (hoặc name) và so_dien_thoai (hoặc phone). Cột tuỳ chọn: dia_chi, ghi_chu, nhom. Hộ trùng số điện thoại sẽ được cập nhật.',
	'import.file': 'Tệp CSV',
	'import.dry': 'Chỉ kiểm tra, chưa ghi vào danh sách',
	'import.submit': 'Nhập',
	'import.nofile': 'Hãy chọn một tệp CSV.',
	'import.result': 'Kết quả',
	'import.result.dry': 'Kết quả kiểm tra (chưa ghi)',
	'import.summary': '{0} dòng: {1} hộ thêm mới, {2} cập nhật, {3} không đổi, {4} dòng bị từ chối.',
	'import.rejected': 'Các dòng bị từ chối',
	'import.warnings': 'Cảnh báo',
	'import.line': 'Dòng',
	'import.column': 'Cột',
	'import.value': 'Giá trị',
	'import.reason': 'Lý do',
	'bf.meeting.title': 'Lịch họp mới',
	'bf.notice.title': 'Thông báo mới',
	'bf.title': 'Tiêu đề',
	'bf.date': 'Ngày họp',
	'bf.time': 'Giờ họp',
	'bf.place': 'Địa điểm',
	'bf.agenda': 'Nội dung cuộc họp',
	'bf.body': 'Nội dung thông báo',
	'bf.chars': '{0}/{1} ký tự',
	'bf.reminders': 'Nhắc lại trước giờ họp',
	'bf.rem.1d': '1 ngày trước',
	'bf.rem.2h': '2 giờ trước',
	'bf.rem.30m': '30 phút trước',
	'bf.urgent': 'Khẩn cấp (gửi ngay, cả giờ nghỉ đêm)',
	'bf.groups': 'Gửi tới nhóm',
	'bf.groups.all': 'Tất cả các nhóm',
	'bf.send_at': 'Gửi lúc (để trống: gửi ngay)',
	'bf.send_date': 'Ngày gửi',
	'bf.send_time': 'Giờ gửi',
	'bf.preview': 'Xem trước',
	'bf.send': 'Gửi',
	'bf.sending': 'Đang gửi…',
	'bf.needs_approval': 'Tin này cần một cán bộ khác duyệt rồi mới được gửi.',
	'bf.no_groups': 'Hãy chọn ít nhất một nhóm.',
	'bf.created_wait': 'Đã tạo tin. Tin đang chờ một cán bộ khác duyệt.',
	'bf.created': 'Đã tạo tin.',
	'pv.title': 'Xem trước (gửi cho một hộ mẫu)',
	'pv.channel': 'Kênh {0} ({1})',
	'pv.sms': 'SMS: {0} phần tin ({1}, {2} ký tự)',
	'pv.sms.warn': 'Tin dài: {0} phần SMS, tốn tiền hơn. Nên rút gọn.',
	'pv.none': 'Chưa có kênh gửi nào được cấu hình.',
	'bl.title': 'Tin đã gửi',
	'bl.state': 'Trạng thái',
	'bl.all': 'Tất cả',
	'bl.id': 'Số',
	'bl.what': 'Tin',
	'bl.kind': 'Loại',
	'bl.progress': 'Tiến độ',
	'bl.groups': 'Nhóm',
	'bl.created': 'Tạo lúc',
	'bl.older': 'Cũ hơn',
	'bl.none': 'Chưa có tin nào.',
	'kind.meeting': 'Họp',
	'kind.notice': 'Thông báo',
	'prio.urgent': 'khẩn',
	'bs.scheduled': 'Đã lên lịch',
	'bs.active': 'Đang gửi',
	'bs.paused': 'Tạm dừng',
	'bs.cancelled': 'Đã huỷ',
	'bs.done': 'Hoàn tất',
	'bs.awaiting_approval': 'Chờ duyệt',
	'ds.queued': 'Đang chờ',
	'ds.sending': 'Đang gửi',
	'ds.sent': 'Đã gửi',
	'ds.delivered': 'Đã nhận',
	'ds.read': 'Đã xem',
	'ds.failed': 'Thất bại',
	'ds.expired': 'Hết hạn',
	'ds.cancelled': 'Đã huỷ',
	'ds.skipped': 'Bỏ qua',
	'ds.total': 'Tổng',
	'bc.kind': 'Loại tin',
	'bc.starts': 'Thời gian họp',
	'bc.place': 'Địa điểm',
	'bc.agenda': 'Nội dung',
	'bc.body': 'Nội dung',
	'bc.groups': 'Gửi tới',
	'bc.all_groups': 'Tất cả các nhóm',
	'bc.send_at': 'Gửi lúc',
	'bc.requested_by': 'Người tạo',
	'bc.approved_by': 'Người duyệt',
	'bc.progress': 'Đã xong {0}/{1} ({2}%)',
	'bc.eta': 'Dự kiến xong lúc {0}',
	'bc.unconfirmed': '{0} tin đã gửi nhưng chưa có xác nhận đã nhận.',
	'bc.counts': 'Theo trạng thái',
	'bc.by_group': 'Theo nhóm',
	'bc.by_channel': 'Theo kênh',
	'bc.group': 'Nhóm',
	'bc.channel': 'Kênh',
	'bc.no_channel': '(không gửi)',
	'bc.rsvp': 'Trả lời tham dự',
	'bc.rsvp.yes': 'Có đến',
	'bc.rsvp.no': 'Không đến',
	'bc.replies': 'Tin trả lời',
	'bc.replies.none': 'Chưa có tin trả lời.',
	'bc.reply.time': 'Lúc',
	'bc.reply.who': 'Hộ',
	'bc.reply.text': 'Nội dung',
	'bc.reply.rsvp': 'Tham dự',
	'bc.reply.unknown': '(không rõ)',
	'bc.not_reached': 'Danh sách hộ chưa nhận được tin',
	'bc.approve': 'Duyệt và gửi',
	'bc.reject': 'Không duyệt',
	'bc.reject.reason': 'Lý do không duyệt (tuỳ chọn)',
	'bc.approved': 'Đã duyệt tin số {0}.',
	'bc.rejected': 'Đã từ chối tin số {0}.',
	'bc.self': 'Bạn đã tạo tin này: cần một cán bộ khác duyệt.',
	'bc.awaiting': 'Tin này đang chờ duyệt: chưa gửi cho ai.',
	'bc.pause': 'Tạm dừng',
	'bc.resume': 'Tiếp tục gửi',
	'bc.cancel': 'Huỷ gửi',
	'bc.cancel.confirm': 'Huỷ gửi tin này? Các tin chưa gửi sẽ không được gửi nữa.',
	'bc.retry': 'Gửi lại các tin thất bại',
	'bc.retried': 'Đã đưa {0} tin vào hàng đợi gửi lại.',
	'bc.pruned': 'Chi tiết của tin này đã được xoá theo chế độ lưu trữ; chỉ còn số liệu tổng.',
	'bc.live': 'Tự động cập nhật mỗi 2 giây.',
	'nr.title': 'Hộ chưa nhận được tin',
	'nr.for': 'Tin: {0}',
	'nr.printed': 'In lúc {0}',
	'nr.group': 'Nhóm cần in',
	'nr.all': 'Tất cả các nhóm',
	'nr.print': 'In danh sách',
	'nr.back': 'Quay lại tin',
	'nr.none': 'Tất cả các hộ đã nhận được tin.',
	'nr.pending': '{0} hộ vẫn đang chờ gửi (chưa tính vào danh sách này).',
	'nr.count': '{0} hộ',
	'nr.no': 'STT',
	'nr.why': 'Lý do',
	'why.opted_out': 'từ chối nhận tin',
	'why.removed': 'hộ đã bị xoá',
	'why.skipped': 'bỏ qua',
	'why.expired': 'hết hạn, không gửi được kịp',
	'why.cancelled': 'đã huỷ gửi',
	'why.failed': 'gửi không thành công',
	'why.unconfirmed': 'đã gửi, chưa xác nhận nhận tin',
	'ch.title': 'Kênh gửi',
	'ch.name': 'Kênh',
	'ch.driver': 'Loại',
	'ch.state': 'Tình trạng',
	'ch.message': 'Ghi chú',
	'ch.in_flight': 'Đang gửi',
	'ch.sent': 'Đã gửi',
	'ch.failed': 'Lỗi',
	'ch.rate': 'Tốc độ (tin/giây)',
	'ch.none': 'Chưa cấu hình kênh gửi nào.',
	'ch.queue': 'Hàng đợi: {0} khẩn, {1} thường.',
	'ch.summary': 'Phiên bản {0}; {1} nhóm, {2} hộ, {3} số điện thoại, {4} hộ từ chối nhận tin.',
	'cs.ok': 'Tốt',
	'cs.rate_limited': 'Bị giới hạn tốc độ',
	'cs.circuit_open': 'Tạm ngừng do lỗi liên tiếp',
	'cs.auth_failed': 'Sai khoá truy cập',
	'cs.config_error': 'Lỗi cấu hình',
	'cs.refreshing_token': 'Đang làm mới khoá',
	'au.title': 'Nhật ký thao tác',
	'au.at': 'Lúc',
	'au.user': 'Người dùng',
	'au.origin': 'Từ',
	'au.action': 'Thao tác',
	'au.target': 'Đối tượng',
	'au.status': 'Kết quả',
	'au.detail': 'Chi tiết',
	'au.none': 'Nhật ký trống.',
	'ap.title': 'Tin chờ duyệt',
	'ap.none': 'Không có tin nào chờ duyệt.',
	'ap.requested': 'Tạo bởi {0} lúc {1}',
	'us.title': 'Tài khoản',
	'us.name': 'Tên đăng nhập',
	'us.display': 'Họ tên',
	'us.role': 'Vai trò',
	'us.groups': 'Nhóm phụ trách',
	'us.groups.help': 'Tổ trưởng cần ít nhất một nhóm.',
	'us.status': 'Trạng thái',
	'us.enabled': 'Đang dùng',
	'us.disabled': 'Đã khoá',
	'us.created': 'Tạo lúc',
	'us.disable': 'Khoá',
	'us.disable.label': 'Khoá tài khoản {0}',
	'us.enable': 'Mở khoá',
	'us.enable.label': 'Mở khoá tài khoản {0}',
	'us.add': 'Thêm tài khoản',
	'us.password': 'Mật khẩu (ít nhất 10 ký tự)',
	'us.create': 'Tạo tài khoản',
	'us.created.ok': 'Đã tạo tài khoản {0}.',
	'us.disabled.ok': 'Đã khoá tài khoản {0}.',
	'us.enabled.ok': 'Đã mở khoá tài khoản {0}.',
	'yes': 'Có',
	'no': 'Không',
	'none': '—'
},
en: {
	'skip': 'Skip to the main content',
	'lang.switch': 'Tiếng Việt',
	'lang.switch.code': 'vi',
	'nav.label': 'Pages',
	'nav.groups': 'Groups',
	'nav.meeting': 'New meeting',
	'nav.notice': 'New notice',
	'nav.broadcasts': 'Broadcasts',
	'nav.approvals': 'Approvals',
	'nav.channels': 'Channels',
	'nav.audit': 'Audit log',
	'nav.users': 'Users',
	'logout': 'Log out',
	'loading': 'Loading…',
	'role.admin': 'admin',
	'role.official': 'official',
	'role.manager': 'manager',
	'err.network': 'Cannot reach the loaxa server. Check the network and try again.',
	'err.http': 'The server answered with error {0}.',
	'err.session': 'Your session has ended. Please log in again.',
	'err.retry_after': 'Try again in {0} seconds.',
	'err.fields': 'To fix:',
	'err.notfound': 'No such page.',
	'err.forbidden': 'You may not see this page.',
	'login.title': 'Log in',
	'login.intro': 'The commune\'s household lists and announcements.',
	'login.user': 'User name',
	'login.password': 'Password',
	'login.submit': 'Log in',
	'login.busy': 'Logging in…',
	'groups.title': 'Village groups',
	'groups.code': 'Code',
	'groups.name': 'Name',
	'groups.households': 'Households',
	'groups.none': 'No groups yet.',
	'groups.export_all': 'Download every household (CSV)',
	'group.refused': 'You may not see this group.',
	'group.households': '{0} households',
	'group.search': 'Search by name, address or phone number',
	'group.search.button': 'Search',
	'group.add': 'Add a household',
	'group.export': 'Download the list (CSV)',
	'group.more': 'Show more',
	'group.none': 'No households.',
	'hh.name': 'Head of household',
	'hh.phones': 'Phone numbers',
	'hh.phones.help': 'Separate several numbers with commas.',
	'hh.address': 'Address',
	'hh.note': 'Note',
	'hh.status': 'Receives',
	'hh.actions': 'Actions',
	'hh.opted_out': 'Opted out',
	'hh.active': 'Yes',
	'hh.edit': 'Edit',
	'hh.edit.label': 'Edit household {0}',
	'hh.opt_out': 'Opt out',
	'hh.opt_out.label': 'Stop sending to household {0}',
	'hh.opt_in': 'Opt in',
	'hh.opt_in.label': 'Send to household {0} again',
	'hh.form.add': 'New household',
	'hh.form.edit': 'Edit household',
	'hh.save': 'Save',
	'hh.cancel': 'Cancel',
	'hh.saved': 'Household {0} saved.',
	'import.title': 'Import a CSV file',
	'import.help': 'A CSV file (UTF-8) with a header line. Required columns: name (or ho_ten) and phone (or so_dien_thoai). Optional: address, note, group. A household with the same phone number is updated.',
	'import.file': 'CSV file',
	'import.dry': 'Only check, do not write',
	'import.submit': 'Import',
	'import.nofile': 'Choose a CSV file.',
	'import.result': 'Result',
	'import.result.dry': 'Result of the check (nothing written)',
	'import.summary': '{0} rows: {1} households created, {2} updated, {3} unchanged, {4} rows rejected.',
	'import.rejected': 'Rejected rows',
	'import.warnings': 'Warnings',
	'import.line': 'Line',
	'import.column': 'Column',
	'import.value': 'Value',
	'import.reason': 'Reason',
	'bf.meeting.title': 'New meeting',
	'bf.notice.title': 'New notice',
	'bf.title': 'Title',
	'bf.date': 'Date',
	'bf.time': 'Time',
	'bf.place': 'Place',
	'bf.agenda': 'Agenda',
	'bf.body': 'Text of the notice',
	'bf.chars': '{0}/{1} characters',
	'bf.reminders': 'Reminders before the meeting',
	'bf.rem.1d': '1 day before',
	'bf.rem.2h': '2 hours before',
	'bf.rem.30m': '30 minutes before',
	'bf.urgent': 'Urgent (sent at once, even at night)',
	'bf.groups': 'Send to groups',
	'bf.groups.all': 'All groups',
	'bf.send_at': 'Send at (empty: now)',
	'bf.send_date': 'Send date',
	'bf.send_time': 'Send time',
	'bf.preview': 'Preview',
	'bf.send': 'Send',
	'bf.sending': 'Sending…',
	'bf.needs_approval': 'A second official must approve this before it is sent.',
	'bf.no_groups': 'Choose at least one group.',
	'bf.created_wait': 'Created. It waits for a second official\'s approval.',
	'bf.created': 'Created.',
	'pv.title': 'Preview (for a sample household)',
	'pv.channel': 'Channel {0} ({1})',
	'pv.sms': 'SMS: {0} segments ({1}, {2} characters)',
	'pv.sms.warn': 'Long: {0} SMS segments cost more. Consider shortening.',
	'pv.none': 'No channel is configured.',
	'bl.title': 'Broadcasts',
	'bl.state': 'State',
	'bl.all': 'All',
	'bl.id': 'No.',
	'bl.what': 'Broadcast',
	'bl.kind': 'Kind',
	'bl.progress': 'Progress',
	'bl.groups': 'Groups',
	'bl.created': 'Created',
	'bl.older': 'Older',
	'bl.none': 'No broadcasts yet.',
	'kind.meeting': 'Meeting',
	'kind.notice': 'Notice',
	'prio.urgent': 'urgent',
	'bs.scheduled': 'Scheduled',
	'bs.active': 'Sending',
	'bs.paused': 'Paused',
	'bs.cancelled': 'Cancelled',
	'bs.done': 'Done',
	'bs.awaiting_approval': 'Awaiting approval',
	'ds.queued': 'Queued',
	'ds.sending': 'Sending',
	'ds.sent': 'Sent',
	'ds.delivered': 'Delivered',
	'ds.read': 'Read',
	'ds.failed': 'Failed',
	'ds.expired': 'Expired',
	'ds.cancelled': 'Cancelled',
	'ds.skipped': 'Skipped',
	'ds.total': 'Total',
	'bc.kind': 'Kind',
	'bc.starts': 'Starts',
	'bc.place': 'Place',
	'bc.agenda': 'Agenda',
	'bc.body': 'Text',
	'bc.groups': 'To',
	'bc.all_groups': 'All groups',
	'bc.send_at': 'Send at',
	'bc.requested_by': 'Requested by',
	'bc.approved_by': 'Approved by',
	'bc.progress': '{0}/{1} done ({2}%)',
	'bc.eta': 'Expected to finish at {0}',
	'bc.unconfirmed': '{0} sent but not confirmed as received.',
	'bc.counts': 'By status',
	'bc.by_group': 'By group',
	'bc.by_channel': 'By channel',
	'bc.group': 'Group',
	'bc.channel': 'Channel',
	'bc.no_channel': '(not sent)',
	'bc.rsvp': 'RSVP',
	'bc.rsvp.yes': 'Coming',
	'bc.rsvp.no': 'Not coming',
	'bc.replies': 'Replies',
	'bc.replies.none': 'No replies yet.',
	'bc.reply.time': 'At',
	'bc.reply.who': 'Household',
	'bc.reply.text': 'Text',
	'bc.reply.rsvp': 'RSVP',
	'bc.reply.unknown': '(unknown)',
	'bc.not_reached': 'Households not reached',
	'bc.approve': 'Approve and send',
	'bc.reject': 'Reject',
	'bc.reject.reason': 'Reason for rejecting (optional)',
	'bc.approved': 'Broadcast {0} approved.',
	'bc.rejected': 'Broadcast {0} rejected.',
	'bc.self': 'You created this broadcast: another official must approve it.',
	'bc.awaiting': 'This broadcast awaits approval: nothing has been sent.',
	'bc.pause': 'Pause',
	'bc.resume': 'Resume',
	'bc.cancel': 'Cancel sending',
	'bc.cancel.confirm': 'Cancel this broadcast? What is not sent yet will not be sent.',
	'bc.retry': 'Retry the failed ones',
	'bc.retried': '{0} deliveries queued again.',
	'bc.pruned': 'The details of this broadcast were pruned by retention; only the totals remain.',
	'bc.live': 'Updated every 2 seconds.',
	'nr.title': 'Households not reached',
	'nr.for': 'Broadcast: {0}',
	'nr.printed': 'Printed {0}',
	'nr.group': 'Group to print',
	'nr.all': 'All groups',
	'nr.print': 'Print',
	'nr.back': 'Back to the broadcast',
	'nr.none': 'Every household was reached.',
	'nr.pending': '{0} households are still waiting to be sent to (not listed).',
	'nr.count': '{0} households',
	'nr.no': 'No.',
	'nr.why': 'Why',
	'why.opted_out': 'opted out',
	'why.removed': 'household removed',
	'why.skipped': 'skipped',
	'why.expired': 'expired before it could be sent',
	'why.cancelled': 'cancelled',
	'why.failed': 'sending failed',
	'why.unconfirmed': 'sent, not confirmed as received',
	'ch.title': 'Channels',
	'ch.name': 'Channel',
	'ch.driver': 'Driver',
	'ch.state': 'State',
	'ch.message': 'Message',
	'ch.in_flight': 'In flight',
	'ch.sent': 'Sent',
	'ch.failed': 'Failed',
	'ch.rate': 'Rate (per second)',
	'ch.none': 'No channel is configured.',
	'ch.queue': 'Queue: {0} urgent, {1} normal.',
	'ch.summary': 'Version {0}; {1} groups, {2} households, {3} phone numbers, {4} opted out.',
	'cs.ok': 'OK',
	'cs.rate_limited': 'Rate limited',
	'cs.circuit_open': 'Paused after repeated errors',
	'cs.auth_failed': 'Authentication failed',
	'cs.config_error': 'Configuration error',
	'cs.refreshing_token': 'Refreshing its token',
	'au.title': 'Audit log',
	'au.at': 'At',
	'au.user': 'User',
	'au.origin': 'From',
	'au.action': 'Action',
	'au.target': 'Target',
	'au.status': 'Status',
	'au.detail': 'Detail',
	'au.none': 'The audit log is empty.',
	'ap.title': 'Awaiting approval',
	'ap.none': 'Nothing awaits approval.',
	'ap.requested': 'Requested by {0} at {1}',
	'us.title': 'Users',
	'us.name': 'User name',
	'us.display': 'Full name',
	'us.role': 'Role',
	'us.groups': 'Groups kept',
	'us.groups.help': 'A manager needs at least one group.',
	'us.status': 'Status',
	'us.enabled': 'Enabled',
	'us.disabled': 'Disabled',
	'us.created': 'Created',
	'us.disable': 'Disable',
	'us.disable.label': 'Disable user {0}',
	'us.enable': 'Enable',
	'us.enable.label': 'Enable user {0}',
	'us.add': 'Add a user',
	'us.password': 'Password (at least 10 characters)',
	'us.create': 'Create the user',
	'us.created.ok': 'User {0} created.',
	'us.disabled.ok': 'User {0} disabled.',
	'us.enabled.ok': 'User {0} enabled.',
	'yes': 'Yes',
	'no': 'No',
	'none': '—'
}
};

function storageGet(key) {
	try {
		return window.localStorage.getItem(key);
	} catch (e) {
		return null;
	}
}

function storageSet(key, value) {
	try {
		window.localStorage.setItem(key, value);
	} catch (e) {
		/* private mode: the choice lasts for this page only */
	}
}

let lang = storageGet('loaxa.lang') === 'en' ? 'en' : 'vi';

/* t('key', a, b): the string in the current language, {0} {1} replaced. */
function t(key, ...args) {
	let s = STR[lang][key];
	if (s === undefined)
		s = STR.vi[key];
	if (s === undefined)
		s = key;
	return s.replace(/\{(\d+)\}/g, (m, i) =>
		args[i] === undefined || args[i] === null ? '' : String(args[i]));
}

/* ---- DOM: text only, never HTML ---- */

function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else if (k === 'class')
				el.className = v;
			else if (k === 'text')
				el.textContent = v;
			else if (k === 'value')
				el.value = v;
			else if (k === 'checked')
				el.checked = el.defaultChecked = true;
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	add(el, kids);
	return el;
}

function add(el, kids) {
	for (const k of kids.flat(Infinity)) {
		if (k === null || k === undefined || k === false)
			continue;
		el.appendChild(typeof k === 'object' ? k
			: document.createTextNode(String(k)));
	}
	return el;
}

/* Replace el's children with kids (strings, nodes, arrays of them). */
function fill(el, ...kids) {
	el.replaceChildren();
	return add(el, kids);
}

function $(id) {
	return document.getElementById(id);
}

/* A table: headers (strings) and rows (arrays of cells: a string or a
 * node); wrapped so that it scrolls sideways on a narrow screen. */
function table(headers, rows, attrs) {
	const thead = h('thead', null, h('tr', null,
		headers.map((x) => h('th', { scope: 'col' }, x))));
	const tbody = h('tbody', null, rows.map((r) => {
		const tr = h('tr', r.attrs || null);
		(r.cells || r).forEach((c, i) => {
			/* data-label: the column's name, shown beside each
			 * cell when a narrow screen stacks the rows */
			tr.appendChild(i === 0 && r.rowHeader
				? h('th', { scope: 'row',
					'data-label': headers[i] }, c)
				: h('td', { 'data-label': headers[i] }, c));
		});
		return tr;
	}));
	return h('div', { class: 'table-wrap' },
		h('table', attrs || null, thead, tbody));
}

function field(id, label, input, help) {
	input.id = id;
	if (help) {
		input.setAttribute('aria-describedby', id + '-help');
	}
	return h('div', { class: 'field' },
		h('label', { for: id }, label), input,
		help ? h('p', { class: 'help', id: id + '-help' }, help) : null);
}

function button(text, onclick, attrs) {
	return h('button', Object.assign({ type: 'button', onclick }, attrs),
		text);
}

function badge(text, kind) {
	return h('span', { class: 'badge badge-' + kind }, text);
}

/* ---- formatting ---- */

function pad(n) {
	return String(n).padStart(2, '0');
}

function fmtTime(ms) {
	if (ms === null || ms === undefined)
		return t('none');
	const d = new Date(ms);
	if (isNaN(d.getTime()))
		return t('none');
	return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ' ' +
		pad(d.getDate()) + '/' + pad(d.getMonth() + 1) + '/' +
		d.getFullYear();
}

/* An ISO 8601 text (or ms since the epoch) from the API. */
function fmtIso(s) {
	if (typeof s === 'number')
		return fmtTime(s);
	return s ? fmtTime(Date.parse(s)) : t('none');
}

/* +84912345678 -> 0912 345 678, as people dial it */
function fmtPhone(p) {
	const m = /^\+84(\d{3})(\d{3})(\d{3})$/.exec(p || '');
	return m ? '0' + m[1] + ' ' + m[2] + ' ' + m[3] : (p || '');
}

function fmtNumber(n) {
	return Number(n || 0).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-US');
}

function stateBadge(state) {
	return badge(t('bs.' + state), 'state-' + state);
}

/* Vietnamese order: numbers in order ("Tổ 2" before "Tổ 10"). */
const collator = new Intl.Collator('vi', { numeric: true,
	sensitivity: 'base' });

/* ---- the session ---- */

const session = {
	user: null,       /* USER of /v1/me */
	csrf: null,
	approval: 'urgent-all',
	groups: null      /* cached /v1/groups for forms */
};

function role() {
	return session.user ? session.user.role : '';
}

function isAdmin() {
	return role() === 'admin';
}

function isManager() {
	return role() === 'manager';
}

class ApiError extends Error {
	constructor(status, code, message, fields) {
		super(message);
		this.status = status;
		this.code = code;
		this.fields = fields || [];
	}
}

/* One call of the JSON API. body: an object (sent as JSON), a Blob/File or
 * a string (sent as text/csv), or undefined. Throws ApiError with the
 * API's own message. */
async function api(method, path, body, opts) {
	opts = opts || {};
	const headers = { 'Accept': 'application/json' };
	let payload;
	if (body !== undefined) {
		if (typeof body === 'string' || body instanceof Blob) {
			payload = body;
			headers['Content-Type'] = 'text/csv; charset=utf-8';
		} else {
			payload = JSON.stringify(body);
			headers['Content-Type'] = 'application/json';
		}
	}
	if (method !== 'GET' && method !== 'HEAD')
		headers['X-CSRF-Token'] = session.csrf || '';
	if (opts.headers)
		Object.assign(headers, opts.headers);
	let resp;
	try {
		resp = await fetch(path, { method, headers, body: payload,
			credentials: 'same-origin', cache: 'no-store' });
	} catch (e) {
		throw new ApiError(0, 'network', t('err.network'));
	}
	let data = null;
	const ctype = resp.headers.get('Content-Type') || '';
	if (resp.status !== 204 && ctype.startsWith('application/json')) {
		try {
			data = await resp.json();
		} catch (e) {
			data = null;
		}
	}
	if (!resp.ok) {
		const e = (data && data.error) || {};
		const err = new ApiError(resp.status,
			e.code || 'http_' + resp.status,
			e.message || t('err.http', resp.status), e.fields);
		const ra = resp.headers.get('Retry-After');
		if (ra)
			err.retryAfter = ra;
		if (resp.status === 401 && !opts.login)
			sessionLost();
		throw err;
	}
	return data;
}

/* A route's page may be left while it waits for the API: each navigation
 * gets a new generation, and a page only draws while it is current. */
let generation = 0;
let timers = [];

function page() {
	const gen = generation;
	return {
		live: () => gen === generation,
		every: (ms, fn) => {
			const id = setInterval(() => {
				if (gen === generation)
					fn();
			}, ms);
			timers.push(id);
		}
	};
}

function stopTimers() {
	for (const id of timers)
		clearInterval(id);
	timers = [];
}

function sessionLost() {
	if (!session.user)
		return;
	session.user = null;
	session.csrf = null;
	session.groups = null;
	drawChrome();
	generation++;
	stopTimers();
	pageLogin(t('err.session'));
}

/* ---- alerts ---- */

function clearAlert() {
	const a = $('alert');
	a.hidden = true;
	fill(a);
	const n = $('notice');
	n.hidden = true;
	fill(n);
}

/* The API's message, and each failing field; the page stays usable. */
function showError(err) {
	const a = $('alert');
	const msg = err instanceof ApiError || err instanceof Error
		? err.message : String(err);
	const kids = [h('p', { class: 'alert-message' }, msg)];
	if (err && err.retryAfter)
		kids.push(h('p', null, t('err.retry_after', err.retryAfter)));
	if (err && err.fields && err.fields.length) {
		kids.push(h('p', null, t('err.fields')));
		kids.push(h('ul', null, err.fields.map((f) =>
			h('li', null, (f.field ? f.field + ': ' : '') +
				(f.message || f.code || '')))));
	}
	fill(a, kids);
	a.hidden = false;
	a.scrollIntoView({ block: 'nearest' });
}

/* A notice for the next page (e.g. "created", then the broadcast). */
let flashText = null;

function flash(text) {
	flashText = text;
}

function showNotice(text) {
	const n = $('notice');
	fill(n, h('p', null, text));
	n.hidden = false;
}

/* Run an action bound to a button: disabled while it runs, errors shown. */
async function act(btn, fn) {
	clearAlert();
	if (btn)
		btn.disabled = true;
	try {
		await fn();
	} catch (e) {
		showError(e);
	} finally {
		if (btn && btn.isConnected)
			btn.disabled = false;
	}
}

/* ---- chrome: header, navigation ---- */

const NAV = [
	['#/groups', 'nav.groups', () => true],
	['#/meeting/new', 'nav.meeting', () => true],
	['#/notice/new', 'nav.notice', () => true],
	['#/broadcasts', 'nav.broadcasts', () => true],
	['#/approvals', 'nav.approvals', () => !isManager()],
	['#/channels', 'nav.channels', () => true],
	['#/audit', 'nav.audit', isAdmin],
	['#/users', 'nav.users', isAdmin]
];

function drawChrome() {
	document.documentElement.lang = lang;
	document.title = t('app.name');
	$('skip').textContent = t('skip');
	const lb = $('lang');
	lb.textContent = t('lang.switch');
	lb.setAttribute('lang', t('lang.switch.code'));
	const out = $('logout');
	out.textContent = t('logout');
	out.hidden = !session.user;
	const who = $('who');
	const nav = $('nav');
	nav.setAttribute('aria-label', t('nav.label'));
	if (!session.user) {
		fill(who);
		nav.hidden = true;
		fill(nav);
		return;
	}
	const u = session.user;
	fill(who, h('span', { class: 'who-name' },
		u.display_name || u.name), ' ',
		h('span', { class: 'who-role' }, '(' + t('role.' + u.role) +
			(u.role === 'manager' && u.groups && u.groups.length
				? ' ' + u.groups.join(', ') : '') + ')'));
	const cur = location.hash.split('/').slice(0, 2).join('/');
	fill(nav, h('ul', null, NAV.filter((n) => n[2]()).map((n) =>
		h('li', null, h('a', { href: n[0],
			'aria-current': n[0] === cur ||
				(n[0].startsWith(cur + '/') && cur.length > 2)
				? 'page' : null }, t(n[1]))))));
	nav.hidden = false;
}

function title(text) {
	return h('h1', { tabindex: '-1', id: 'page-title' }, text);
}

function setView(...nodes) {
	fill($('view'), nodes);
}

function loading() {
	setView(h('p', { class: 'loading' }, t('loading')));
}

/* ---- pages ---- */

function pageLogin(message) {
	const user = h('input', { type: 'text', autocomplete: 'username',
		required: true, autocapitalize: 'none', spellcheck: 'false' });
	const pw = h('input', { type: 'password',
		autocomplete: 'current-password', required: true });
	const submit = h('button', { type: 'submit', id: 'login-submit',
		class: 'primary' }, t('login.submit'));
	const form = h('form', { class: 'card login', novalidate: true,
		onsubmit: (ev) => {
			ev.preventDefault();
			act(submit, async () => {
				submit.textContent = t('login.busy');
				try {
					const r = await api('POST', '/v1/login',
						{ user: user.value.trim(),
							password: pw.value },
						{ login: true });
					session.user = r.user;
					session.csrf = r.csrf;
					pw.value = '';
					await loadMe();
				} finally {
					submit.textContent = t('login.submit');
				}
				if (!location.hash || location.hash === '#/' ||
				    location.hash === '#/login')
					location.hash = '#/groups';
				route();
			});
		} },
		title(t('login.title')),
		h('p', null, t('login.intro')),
		field('login-user', t('login.user'), user),
		field('login-password', t('login.password'), pw),
		submit);
	setView(form);
	if (message)
		showError(new Error(message));
	user.focus();
}

async function loadMe() {
	const me = await api('GET', '/v1/me', undefined, { login: true });
	session.user = me.user;
	if (me.csrf)
		session.csrf = me.csrf;
	session.approval = me.approval || 'urgent-all';
	drawChrome();
}

async function groupsList() {
	const r = await api('GET', '/v1/groups');
	session.groups = r.groups || [];
	return session.groups;
}

async function pageGroups(p) {
	const groups = await groupsList();
	if (!p.live())
		return;
	const rows = groups.map((g) => ({ rowHeader: true, cells: [
		h('a', { href: '#/groups/' + encodeURIComponent(g.code) },
			g.code),
		g.name, fmtNumber(g.households)] }));
	setView(title(t('groups.title')),
		groups.length ? table([t('groups.code'), t('groups.name'),
			t('groups.households')], rows, { id: 'groups-table' })
			: h('p', null, t('groups.none')),
		h('p', null, h('a', { href: '/v1/export', download: 'loaxa.csv',
			class: 'button-link' }, t('groups.export_all'))));
}

async function pageGroup(p, code) {
	let g;
	try {
		g = await api('GET', '/v1/groups/' + encodeURIComponent(code));
	} catch (e) {
		if (!p.live())
			return;
		setView(title(code), h('p', { class: 'refused',
			id: 'group-refused' },
			e.status === 403 ? t('group.refused') : e.message));
		throw e;
	}
	if (!p.live())
		return;

	let after = null;
	let query = '';
	const tbodyHost = h('div', { id: 'households' });
	const more = button(t('group.more'), () => act(more, () => load(true)),
		{ id: 'hh-more', hidden: true });
	const countLine = h('p', { class: 'muted', id: 'group-count' },
		t('group.households', fmtNumber(g.households)));
	let rows = [];

	function householdRow(x) {
		const name = x.name;
		const toggle = x.opted_out
			? button(t('hh.opt_in'), (ev) => act(ev.target, () =>
				setOpt(x, false)),
			{ 'aria-label': t('hh.opt_in.label', name),
				class: 'small' })
			: button(t('hh.opt_out'), (ev) => act(ev.target, () =>
				setOpt(x, true)),
			{ 'aria-label': t('hh.opt_out.label', name),
				class: 'small' });
		return { rowHeader: true, attrs: { 'data-id': x.id },
			cells: [name,
				h('span', { class: 'nowrap-list' },
					(x.phones || []).map(fmtPhone).join(', ')),
				x.address || '',
				x.opted_out ? badge(t('hh.opted_out'), 'warn')
					: t('hh.active'),
				h('span', { class: 'actions' },
					button(t('hh.edit'), () => openForm(x),
						{ 'aria-label':
						t('hh.edit.label', name),
						class: 'small' }),
					toggle)] };
	}

	function drawRows() {
		fill(tbodyHost, rows.length
			? table([t('hh.name'), t('hh.phones'), t('hh.address'),
				t('hh.status'), t('hh.actions')],
			rows.map(householdRow), { id: 'households-table', class: 'stack' })
			: h('p', null, t('group.none')));
		more.hidden = after === null;
	}

	async function load(append) {
		let path = '/v1/households?limit=100&group=' +
			encodeURIComponent(g.code);
		if (query)
			path += '&q=' + encodeURIComponent(query);
		if (append && after !== null)
			path += '&after=' + after;
		const r = await api('GET', path);
		if (!p.live())
			return;
		rows = append ? rows.concat(r.households) : r.households;
		after = r.next_after;
		drawRows();
	}

	async function refreshCount() {
		const ng = await api('GET', '/v1/groups/' +
			encodeURIComponent(g.code));
		countLine.textContent = t('group.households',
			fmtNumber(ng.households));
	}

	async function setOpt(x, out) {
		const r = await api('POST', '/v1/households/' + x.id +
			(out ? '/opt-out' : '/opt-in'));
		rows = rows.map((y) => y.id === x.id ? r : y);
		drawRows();
	}

	/* the add / edit form */
	const fName = h('input', { type: 'text', required: true,
		autocomplete: 'off' });
	const fPhones = h('input', { type: 'text', inputmode: 'tel',
		required: true, autocomplete: 'off' });
	const fAddress = h('input', { type: 'text', autocomplete: 'off' });
	const fNote = h('input', { type: 'text', autocomplete: 'off' });
	const formTitle = h('h2', { id: 'hh-form-title', tabindex: '-1' });
	let editing = null;
	const save = h('button', { type: 'submit', class: 'primary',
		id: 'hh-save' }, t('hh.save'));
	const form = h('form', { class: 'card', id: 'hh-form', hidden: true,
		'aria-labelledby': 'hh-form-title',
		onsubmit: (ev) => {
			ev.preventDefault();
			act(save, async () => {
				const body = {
					name: fName.value.trim(),
					phones: fPhones.value.split(/[,;]/)
						.map((s) => s.trim())
						.filter((s) => s),
					address: fAddress.value.trim() || null,
					note: fNote.value.trim() || null
				};
				let r;
				if (editing) {
					r = await api('PATCH', '/v1/households/' +
						editing.id, body);
				} else {
					body.group = g.code;
					r = await api('POST', '/v1/households',
						body);
				}
				form.hidden = true;
				showNotice(t('hh.saved', r.name));
				await load(false);
				await refreshCount();
			});
		} },
		formTitle,
		field('hh-name', t('hh.name'), fName),
		field('hh-phones', t('hh.phones'), fPhones, t('hh.phones.help')),
		field('hh-address', t('hh.address'), fAddress),
		field('hh-note', t('hh.note'), fNote),
		h('div', { class: 'buttons' }, save,
			button(t('hh.cancel'), () => { form.hidden = true; })));

	function openForm(x) {
		editing = x || null;
		formTitle.textContent = t(x ? 'hh.form.edit' : 'hh.form.add');
		fName.value = x ? x.name : '';
		fPhones.value = x ? (x.phones || []).map(fmtPhone).join(', ')
			: '';
		fAddress.value = x && x.address ? x.address : '';
		fNote.value = x && x.note ? x.note : '';
		form.hidden = false;
		form.scrollIntoView({ block: 'nearest' });
		fName.focus();
	}

	/* search */
	const search = h('input', { type: 'search', autocomplete: 'off' });
	const searchForm = h('form', { class: 'search', role: 'search',
		onsubmit: (ev) => {
			ev.preventDefault();
			query = search.value.trim();
			act(null, () => load(false));
		} },
		h('label', { for: 'hh-search', class: 'visually-hidden' },
			t('group.search')),
		search,
		h('button', { type: 'submit' }, t('group.search.button')));
	search.id = 'hh-search';
	search.placeholder = t('group.search');

	/* import */
	const file = h('input', { type: 'file',
		accept: '.csv,text/csv,text/plain' });
	const dry = h('input', { type: 'checkbox', id: 'import-dry' });
	const report = h('div', { id: 'import-report', 'aria-live': 'polite' });
	const importBtn = h('button', { type: 'submit', id: 'import-submit' },
		t('import.submit'));
	const importForm = h('form', { class: 'card', id: 'import-form',
		'aria-labelledby': 'import-title',
		onsubmit: (ev) => {
			ev.preventDefault();
			act(importBtn, async () => {
				fill(report);
				const f = file.files && file.files[0];
				if (!f)
					throw new Error(t('import.nofile'));
				const r = await api('POST', '/v1/import?group=' +
					encodeURIComponent(g.code) +
					(dry.checked ? '&dry_run=1' : ''), f);
				fill(report, importReport(r));
				if (!r.dry_run) {
					await load(false);
					await refreshCount();
				}
			});
		} },
		h('h2', { id: 'import-title' }, t('import.title')),
		h('p', { class: 'help' }, t('import.help')),
		field('import-file', t('import.file'), file),
		h('div', { class: 'check' }, dry,
			h('label', { for: 'import-dry' }, t('import.dry'))),
		h('div', { class: 'buttons' }, importBtn),
		report);

	setView(title(g.name + ' (' + g.code + ')'), countLine,
		h('div', { class: 'toolbar' }, searchForm,
			button(t('group.add'), () => openForm(null),
				{ id: 'hh-add', class: 'primary' }),
			h('a', { class: 'button-link', id: 'group-export',
				href: '/v1/export?group=' +
					encodeURIComponent(g.code),
				download: 'loaxa-' + g.code + '.csv' },
			t('group.export'))),
		form, tbodyHost, more, importForm);
	await load(false);
}

function importReport(r) {
	const rejected = r.rejected || [];
	const warnings = r.warnings || [];
	const out = [
		h('h3', null, t(r.dry_run ? 'import.result.dry'
			: 'import.result')),
		h('p', { id: 'import-summary' }, t('import.summary',
			r.rows, r.created, r.updated, r.unchanged,
			rejected.length))
	];
	const issueRows = (list) => list.map((x) => [String(x.line),
		x.column || '', x.value || '', x.message || x.code || '']);
	const heads = [t('import.line'), t('import.column'), t('import.value'),
		t('import.reason')];
	if (rejected.length) {
		out.push(h('h4', null, t('import.rejected')));
		out.push(table(heads, issueRows(rejected),
			{ id: 'import-rejected', class: 'issues' }));
	}
	if (warnings.length) {
		out.push(h('h4', null, t('import.warnings')));
		out.push(table(heads, issueRows(warnings),
			{ id: 'import-warnings', class: 'issues' }));
	}
	return out;
}

/* ---- the meeting and notice forms ---- */

function needsApproval(urgent, all) {
	switch (session.approval) {
	case 'off': return false;
	case 'urgent': return urgent;
	case 'all': return true;
	default: return urgent && all;
	}
}

function randomKey() {
	const b = new Uint8Array(16);
	window.crypto.getRandomValues(b);
	return 'console-' + Array.from(b, (x) =>
		x.toString(16).padStart(2, '0')).join('');
}

function todayIso() {
	const d = new Date();
	return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' +
		pad(d.getDate());
}

async function pageBroadcastForm(p, kind) {
	const groups = await groupsList();
	if (!p.live())
		return;
	const meeting = kind === 'meeting';
	const idem = randomKey();

	const fTitle = h('input', { type: 'text', required: true,
		maxlength: '200', autocomplete: 'off' });
	const fDate = h('input', { type: 'date', required: true,
		min: todayIso() });
	const fTime = h('input', { type: 'time', required: true });
	const fPlace = h('input', { type: 'text', required: true,
		autocomplete: 'off' });
	const fAgenda = h('textarea', { rows: '3' });
	const fBody = h('textarea', { rows: '5', maxlength: '2000',
		required: true });
	const counter = h('p', { class: 'help', id: 'bf-body-count',
		'aria-live': 'polite' }, t('bf.chars', 0, 2000));
	fBody.addEventListener('input', () => {
		counter.textContent = t('bf.chars', [...fBody.value].length,
			2000);
	});
	const reminders = [['1 day before', 'bf.rem.1d'],
		['2 hours before', 'bf.rem.2h'],
		['30 minutes before', 'bf.rem.30m']].map(([v, k], i) => ({
		v, box: h('input', { type: 'checkbox', id: 'rem-' + i }), k }));
	const urgent = h('input', { type: 'checkbox', role: 'switch',
		id: 'bf-urgent' });
	const allBox = h('input', { type: 'checkbox', id: 'grp-all' });
	const boxes = groups.map((g) => ({ g, box: h('input', {
		type: 'checkbox', id: 'grp-' + g.code, value: g.code }) }));
	if (isManager() && boxes.length === 1)
		boxes[0].box.checked = true;
	const sendDate = h('input', { type: 'date', min: todayIso() });
	const sendTime = h('input', { type: 'time' });
	const approvalNote = h('p', { class: 'note', id: 'bf-approval',
		hidden: true }, t('bf.needs_approval'));
	const preview = h('section', { id: 'preview', 'aria-live': 'polite',
		hidden: true });

	function update() {
		for (const b of boxes)
			b.box.disabled = allBox.checked;
		approvalNote.hidden = !needsApproval(
			!meeting && urgent.checked, allBox.checked);
	}
	allBox.addEventListener('change', update);
	urgent.addEventListener('change', update);

	function body() {
		const b = { kind, priority: !meeting && urgent.checked
			? 'urgent' : 'normal', title: fTitle.value.trim() };
		if (meeting) {
			b.starts_at = fDate.value && fTime.value
				? fDate.value + ' ' + fTime.value : '';
			b.place = fPlace.value.trim();
			if (fAgenda.value.trim())
				b.agenda = fAgenda.value.trim();
			b.reminders = reminders.filter((r) => r.box.checked)
				.map((r) => r.v);
		} else {
			b.body = fBody.value.trim();
		}
		if (allBox.checked)
			b.groups = 'all';
		else
			b.groups = boxes.filter((x) => x.box.checked)
				.map((x) => x.g.code);
		if (sendDate.value && sendTime.value)
			b.send_at = sendDate.value + ' ' + sendTime.value;
		else if (sendTime.value)
			b.send_at = todayIso() + ' ' + sendTime.value;
		return b;
	}

	function checkGroups(b) {
		if (b.groups !== 'all' && !b.groups.length)
			throw new Error(t('bf.no_groups'));
	}

	const previewBtn = button(t('bf.preview'), () => act(previewBtn,
		async () => {
			const b = body();
			checkGroups(b);
			const r = await api('POST', '/v1/broadcasts/preview', b);
			drawPreview(preview, r);
		}), { id: 'preview-btn' });
	const sendBtn = h('button', { type: 'submit', class: 'primary',
		id: 'send-btn' }, t('bf.send'));

	const form = h('form', { class: 'card broadcast-form', id: 'bf-form',
		novalidate: true,
		onsubmit: (ev) => {
			ev.preventDefault();
			act(sendBtn, async () => {
				const b = body();
				checkGroups(b);
				const r = await api('POST', '/v1/broadcasts', b,
					{ headers: { 'Idempotency-Key': idem } });
				flash(t(r.state === 'awaiting_approval'
					? 'bf.created_wait' : 'bf.created'));
				location.hash = '#/broadcasts/' + r.id;
			});
		} },
		field('bf-title', t('bf.title'), fTitle),
		meeting ? h('div', { class: 'row' },
			field('bf-date', t('bf.date'), fDate),
			field('bf-time', t('bf.time'), fTime)) : null,
		meeting ? field('bf-place', t('bf.place'), fPlace) : null,
		meeting ? field('bf-agenda', t('bf.agenda'), fAgenda) : null,
		meeting ? null : field('bf-body', t('bf.body'), fBody),
		meeting ? null : counter,
		meeting ? h('fieldset', null, h('legend', null,
			t('bf.reminders')), reminders.map((r) =>
			h('div', { class: 'check' }, r.box,
				h('label', { for: r.box.id }, t(r.k))))) : null,
		!meeting && !isManager() ? h('div', { class: 'check switch' },
			urgent, h('label', { for: 'bf-urgent' },
				t('bf.urgent'))) : null,
		h('fieldset', { id: 'bf-groups' },
			h('legend', null, t('bf.groups')),
			isManager() ? null : h('div', { class: 'check' }, allBox,
				h('label', { for: 'grp-all' },
					t('bf.groups.all'))),
			h('div', { class: 'group-boxes' }, boxes.map((x) =>
				h('div', { class: 'check' }, x.box,
					h('label', { for: x.box.id },
						x.g.name + ' (' + x.g.code +
						')'))))),
		h('fieldset', null, h('legend', null, t('bf.send_at')),
			h('div', { class: 'row' },
				field('bf-send-date', t('bf.send_date'),
					sendDate),
				field('bf-send-time', t('bf.send_time'),
					sendTime))),
		approvalNote,
		h('div', { class: 'buttons' }, previewBtn, sendBtn));

	setView(title(t(meeting ? 'bf.meeting.title' : 'bf.notice.title')),
		form, preview);
	update();
}

function drawPreview(host, r) {
	const msgs = r.messages || [];
	const warn = r.sms_warn_segments || 0;
	fill(host, h('h2', null, t('pv.title')),
		msgs.length ? msgs.map((m) => h('article',
			{ class: 'card preview-msg', 'data-channel': m.channel },
			h('h3', null, t('pv.channel', m.channel, m.driver)),
			h('pre', { class: 'message-text' }, m.text),
			m.sms ? h('p', { class: 'sms-info' }, t('pv.sms',
				m.sms.segments, m.sms.encoding, m.sms.units))
				: null,
			m.sms && warn && m.sms.segments > warn
				? h('p', { class: 'note warn' },
					t('pv.sms.warn', m.sms.segments))
				: null))
			: h('p', null, t('pv.none')));
	host.hidden = false;
}

/* ---- broadcasts ---- */

const STATES = ['awaiting_approval', 'scheduled', 'active', 'paused',
	'done', 'cancelled'];
const DSTATUSES = ['queued', 'sending', 'sent', 'delivered', 'read',
	'failed', 'expired', 'cancelled', 'skipped'];

function bcastTitleCell(b) {
	return [h('a', { href: '#/broadcasts/' + b.id }, b.title),
		b.priority === 'urgent' ? [' ', badge(t('prio.urgent'),
			'urgent')] : null];
}

function groupsText(b) {
	return b.all_groups ? t('bc.all_groups') : (b.groups || []).join(', ');
}

function percentText(b) {
	const pr = b.progress || {};
	return (Math.floor((pr.percent || 0) * 10) / 10) + '%';
}

async function pageBroadcasts(p) {
	let before = null;
	let list = [];
	const stateSel = h('select', { id: 'bl-state' },
		h('option', { value: '' }, t('bl.all')),
		STATES.map((s) => h('option', { value: s }, t('bs.' + s))));
	const host = h('div', { id: 'broadcasts' });
	const older = button(t('bl.older'), () => act(older, () => load(true)),
		{ id: 'bl-older', hidden: true });

	function draw() {
		fill(host, list.length ? table([t('bl.id'),
			t('bl.what'), t('bl.kind'), t('bl.state'),
			t('bl.progress'), t('bl.groups'), t('bl.created')],
		list.map((b) => ({ attrs: { 'data-id': b.id }, cells: [
			'#' + b.id, bcastTitleCell(b), t('kind.' + b.kind),
			stateBadge(b.state), percentText(b), groupsText(b),
			fmtTime(b.created_ms)] })), { id: 'broadcasts-table', class: 'stack' })
			: h('p', null, t('bl.none')));
		older.hidden = before === null;
	}

	async function load(append) {
		let path = '/v1/broadcasts?limit=50';
		if (stateSel.value)
			path += '&state=' + encodeURIComponent(stateSel.value);
		if (append && before !== null)
			path += '&before=' + before;
		const r = await api('GET', path);
		if (!p.live())
			return;
		list = append ? list.concat(r.broadcasts) : r.broadcasts;
		before = r.next_before;
		draw();
	}
	stateSel.addEventListener('change', () => act(null, () => load(false)));
	setView(title(t('bl.title')),
		h('div', { class: 'toolbar' },
			field('bl-state', t('bl.state'), stateSel),
			h('a', { href: '#/meeting/new', class: 'button-link' },
				t('nav.meeting')),
			h('a', { href: '#/notice/new', class: 'button-link' },
				t('nav.notice'))),
		host, older);
	await load(false);
}

function mayApprove(b) {
	return !isManager() && b.state === 'awaiting_approval' &&
		(b.requested_by === null || b.requested_by === undefined
			? isAdmin() : b.requested_by !== session.user.name);
}

function approveButtons(b, after) {
	if (b.state !== 'awaiting_approval' || isManager())
		return null;
	if (!mayApprove(b))
		return h('p', { class: 'note' }, t('bc.self'));
	const reason = h('input', { type: 'text', autocomplete: 'off' });
	const ok = button(t('bc.approve'), () => act(ok, async () => {
		await api('POST', '/v1/broadcasts/' + b.id + '/approve', {});
		showNotice(t('bc.approved', b.id));
		await after();
	}), { class: 'primary', id: 'approve-' + b.id });
	const no = button(t('bc.reject'), () => act(no, async () => {
		const body = {};
		if (reason.value.trim())
			body.reason = reason.value.trim();
		await api('POST', '/v1/broadcasts/' + b.id + '/reject', body);
		showNotice(t('bc.rejected', b.id));
		await after();
	}), { class: 'danger', id: 'reject-' + b.id });
	return h('div', { class: 'approve' },
		field('reject-reason-' + b.id, t('bc.reject.reason'), reason),
		h('div', { class: 'buttons' }, ok, no));
}

function countsTable(id, heads, rowsObj) {
	const keys = Object.keys(rowsObj).sort((a, b) =>
		(a === '') - (b === '') || collator.compare(a, b));
	const used = DSTATUSES.filter((s) => keys.some((k) =>
		(rowsObj[k] || {})[s]));
	return table([heads].concat(used.map((s) => t('ds.' + s)),
		[t('ds.total')]), keys.map((k) => {
		const c = rowsObj[k] || {};
		let total = 0;
		for (const s of DSTATUSES)
			total += c[s] || 0;
		return { rowHeader: true, cells: [k || t('bc.no_channel')]
			.concat(used.map((s) =>
			fmtNumber(c[s] || 0)), [fmtNumber(total)]) };
	}), { id, class: 'numbers' });
}

async function pageBroadcast(p, id) {
	const head = h('div', { id: 'bc-head' });
	const live = h('div', { id: 'bc-live' });
	const repliesHost = h('section', { id: 'bc-replies',
		'aria-labelledby': 'bc-replies-title' });
	let lastState = null;

	async function load() {
		const b = await api('GET', '/v1/broadcasts/' + id);
		if (!p.live())
			return;
		let replies = [];
		try {
			const r = await api('GET', '/v1/replies?limit=100&' +
				'broadcast=' + id);
			replies = r.replies || [];
		} catch (e) {
			if (e.status !== 403 && e.status !== 404)
				throw e;
		}
		if (!p.live())
			return;
		if (b.state !== lastState) {
			drawHead(b);
			lastState = b.state;
		}
		drawLive(b);
		drawReplies(replies);
	}

	function drawHead(b) {
		const meta = [
			[t('bc.kind'), t('kind.' + b.kind) +
				(b.priority === 'urgent' ? ', ' +
					t('prio.urgent') : '')],
			b.kind === 'meeting' ? [t('bc.starts'), b.starts_text ||
				fmtTime(b.starts_ms)] : null,
			b.place ? [t('bc.place'), b.place] : null,
			b.agenda ? [t('bc.agenda'), b.agenda] : null,
			b.body ? [t('bc.body'), b.body] : null,
			[t('bc.groups'), groupsText(b)],
			[t('bc.send_at'), b.send_at_text || fmtTime(b.send_at_ms)],
			b.requested_by ? [t('bc.requested_by'), b.requested_by]
				: null,
			b.approved_by ? [t('bc.approved_by'), b.approved_by +
				(b.approved_at ? ', ' + fmtIso(b.approved_at)
					: '')] : null
		].filter((x) => x);
		const actions = [];
		const st = b.state;
		if (st === 'active' || st === 'scheduled')
			actions.push(button(t('bc.pause'), (ev) => act(ev.target,
				() => post('pause')), { id: 'bc-pause' }));
		if (st === 'paused')
			actions.push(button(t('bc.resume'), (ev) => act(ev.target,
				() => post('resume')), { id: 'bc-resume' }));
		if (st === 'active' || st === 'scheduled' || st === 'paused')
			actions.push(button(t('bc.cancel'), (ev) => {
				if (window.confirm(t('bc.cancel.confirm')))
					act(ev.target, () => post('cancel'));
			}, { id: 'bc-cancel', class: 'danger' }));
		if ((b.counts || {}).failed && st !== 'cancelled' &&
		    st !== 'awaiting_approval')
			actions.push(button(t('bc.retry'), (ev) => act(ev.target,
				async () => {
					const r = await api('POST',
						'/v1/broadcasts/' + id +
						'/retry');
					showNotice(t('bc.retried', r.requeued));
					await load();
				}), { id: 'bc-retry' }));
		fill(head,
			title('#' + b.id + ' ' + b.title),
			h('p', { id: 'bc-state' }, stateBadge(b.state)),
			st === 'awaiting_approval' ? h('p', { class: 'note' },
				t('bc.awaiting')) : null,
			h('dl', { class: 'meta' }, meta.map(([k, v]) =>
				[h('dt', null, k), h('dd', null, v)])),
			approveButtons(b, load),
			actions.length ? h('div', { class: 'buttons no-print' },
				actions) : null,
			st !== 'awaiting_approval' ? h('p', null, h('a', {
				href: '#/broadcasts/' + id + '/not-reached',
				id: 'bc-not-reached-link' },
			t('bc.not_reached'))) : null);
	}

	async function post(what) {
		await api('POST', '/v1/broadcasts/' + id + '/' + what);
		await load();
	}

	function drawLive(b) {
		const pr = b.progress || { total: 0, final: 0, percent: 0 };
		const counts = b.counts || {};
		const bar = h('progress', { id: 'bc-progress',
			max: String(Math.max(pr.total, 1)),
			value: String(pr.final),
			'aria-labelledby': 'bc-progress-text' });
		const used = DSTATUSES.filter((s) => counts[s]);
		fill(live,
			b.pruned_at ? h('p', { class: 'note' }, t('bc.pruned'))
				: null,
			h('div', { class: 'progress' }, bar,
				h('p', { id: 'bc-progress-text' },
					t('bc.progress', fmtNumber(pr.final),
						fmtNumber(pr.total),
						percentText(b).replace('%', '')))),
			b.eta_ms ? h('p', { class: 'muted' },
				t('bc.eta', fmtTime(b.eta_ms))) : null,
			b.unconfirmed ? h('p', { class: 'muted' },
				t('bc.unconfirmed', b.unconfirmed)) : null,
			b.rsvp ? h('section', { id: 'bc-rsvp',
				'aria-labelledby': 'bc-rsvp-title' },
			h('h2', { id: 'bc-rsvp-title' }, t('bc.rsvp')),
			h('p', { class: 'tally' },
				h('span', { class: 'tally-yes' }, t('bc.rsvp.yes') +
					': ', h('strong', { id: 'rsvp-yes' },
					fmtNumber(b.rsvp.yes))),
				h('span', { class: 'tally-no' }, t('bc.rsvp.no') +
					': ', h('strong', { id: 'rsvp-no' },
					fmtNumber(b.rsvp.no))))) : null,
			h('h2', null, t('bc.counts')),
			h('ul', { class: 'counts', id: 'bc-counts' },
				used.map((s) => h('li', { 'data-status': s },
					h('span', { class: 'count-label' },
						t('ds.' + s)),
					h('strong', null, fmtNumber(counts[s]))))),
			b.by_group && Object.keys(b.by_group).length
				? [h('h2', null, t('bc.by_group')),
					countsTable('bc-by-group', t('bc.group'),
						b.by_group)] : null,
			b.by_channel && Object.keys(b.by_channel).length
				? [h('h2', null, t('bc.by_channel')),
					countsTable('bc-by-channel',
						t('bc.channel'),
						b.by_channel)] : null,
			live_active(b) ? h('p', { class: 'muted no-print' },
				t('bc.live')) : null);
	}

	function drawReplies(replies) {
		fill(repliesHost,
			h('h2', { id: 'bc-replies-title' }, t('bc.replies')),
			replies.length ? table([t('bc.reply.time'),
				t('bc.reply.who'), t('bc.reply.text'),
				t('bc.reply.rsvp')], replies.map((r) => [
				fmtTime(r.received_ms),
				r.name ? r.name + (r.group ? ' (' + r.group +
					')' : '') : t('bc.reply.unknown'),
				r.text || '',
				r.rsvp ? t('bc.rsvp.' + r.rsvp) : t('none')]),
			{ id: 'replies-table' })
				: h('p', null, t('bc.replies.none')));
	}

	setView(head, live, repliesHost);
	await load();
	p.every(2000, () => {
		if (live_active({ state: lastState }))
			load().catch((e) => showError(e));
	});
}

/* While a broadcast may still change by itself. */
function live_active(b) {
	return b.state === 'active' || b.state === 'scheduled';
}

/* ---- the not-reached list ---- */

function isUnconfirmed(d) {
	return d.status === 'sent' && d.unconfirmed === true;
}

function reached(d) {
	return (d.status === 'sent' && !isUnconfirmed(d)) ||
		d.status === 'delivered' || d.status === 'read';
}

function notReached(d) {
	return ['failed', 'expired', 'skipped', 'cancelled']
		.includes(d.status) || isUnconfirmed(d);
}

function whyText(d) {
	switch (d.status) {
	case 'failed':
		return d.message || d.code || t('why.failed');
	case 'skipped':
		return d.code === 'removed' ? t('why.removed')
			: d.code === 'opted_out' ? t('why.opted_out')
				: t('why.skipped');
	case 'expired':
		return t('why.expired');
	case 'cancelled':
		return t('why.cancelled');
	default:
		return isUnconfirmed(d) ? t('why.unconfirmed') : '';
	}
}

/* One row per household that no delivery reached (its latest wave's
 * reason), as `loaxa report --not-reached` does; and how many are still
 * pending. */
function selectNotReached(all) {
	const by = new Map();
	for (const d of all) {
		let x = by.get(d.household_id);
		if (!x) {
			x = { reached: false, pending: false, last: null };
			by.set(d.household_id, x);
		}
		if (reached(d))
			x.reached = true;
		else if (d.status === 'queued' || d.status === 'sending')
			x.pending = true;
		else if (notReached(d) && (!x.last || d.wave >= x.last.wave))
			x.last = d;
	}
	const rows = [];
	let pending = 0;
	for (const x of by.values()) {
		if (x.reached)
			continue;
		if (x.pending) {
			pending++;
			continue;
		}
		if (x.last)
			rows.push(x.last);
	}
	return { rows, pending };
}

async function pageNotReached(p, id) {
	const b = await api('GET', '/v1/broadcasts/' + id);
	let all = [];
	let after = null;
	for (;;) {
		const r = await api('GET', '/v1/broadcasts/' + id +
			'/deliveries?limit=1000' +
			(after !== null ? '&after=' + after : ''));
		all = all.concat(r.deliveries || []);
		if (r.next_after === null || r.next_after === undefined ||
		    r.next_after === after)
			break;
		after = r.next_after;
		if (!p.live())
			return;
	}
	let names = {};
	try {
		for (const g of await groupsList())
			names[g.code] = g.name;
	} catch (e) {
		names = {};
	}
	if (!p.live())
		return;
	const { rows, pending } = selectNotReached(all);
	const byGroup = new Map();
	for (const d of rows) {
		const k = d.group || '';
		if (!byGroup.has(k))
			byGroup.set(k, []);
		byGroup.get(k).push(d);
	}
	const codes = [...byGroup.keys()].sort(collator.compare);
	const sel = h('select', { id: 'nr-group' },
		h('option', { value: '' }, t('nr.all')),
		codes.map((c) => h('option', { value: c },
			(names[c] || c) + ' (' + c + ')')));
	const sections = codes.map((c) => {
		const list = byGroup.get(c).sort((x, y) =>
			collator.compare(x.address || '', y.address || '') ||
			collator.compare(x.name || '', y.name || ''));
		return h('section', { class: 'nr-group', 'data-group': c,
			'aria-labelledby': 'nr-h-' + c },
		h('h2', { id: 'nr-h-' + c }, (names[c] || c) + ' (' + c +
			') — ' + t('nr.count', list.length)),
		table([t('nr.no'), t('hh.name'), t('hh.address'),
			t('hh.phones'), t('nr.why')], list.map((d, i) => [
			String(i + 1), d.name || '', d.address || '',
			fmtPhone(d.phone), whyText(d)]),
		{ class: 'nr-table stack' }));
	});
	/* the first group shown prints on the first page, the others each
	 * on a page of their own */
	function filter() {
		let first = true;
		for (const s of sections) {
			s.hidden = sel.value !== '' &&
				s.getAttribute('data-group') !== sel.value;
			s.classList.toggle('first-shown', !s.hidden && first);
			if (!s.hidden)
				first = false;
		}
	}
	sel.addEventListener('change', filter);
	filter();
	setView(title(t('nr.title')),
		h('p', { class: 'nr-for' }, t('nr.for', '#' + b.id + ' ' +
			b.title + (b.starts_text ? ' — ' + b.starts_text : ''))),
		h('p', { class: 'print-only' }, t('nr.printed',
			fmtTime(Date.now()))),
		h('div', { class: 'toolbar no-print' },
			codes.length ? field('nr-group', t('nr.group'), sel)
				: null,
			codes.length ? button(t('nr.print'), () => window.print(),
				{ id: 'print-btn', class: 'primary' }) : null,
			h('a', { href: '#/broadcasts/' + id,
				class: 'button-link' }, t('nr.back'))),
		pending ? h('p', { class: 'note' }, t('nr.pending', pending))
			: null,
		codes.length ? sections : h('p', { id: 'nr-none' },
			t('nr.none')));
}

/* ---- channels ---- */

async function pageChannels(p) {
	const host = h('div', { id: 'channels' });
	async function load() {
		const s = await api('GET', '/v1/status');
		if (!p.live())
			return;
		const ch = s.channels || [];
		const q = s.queue || {};
		fill(host,
			h('p', null, t('ch.summary', s.version,
				fmtNumber(s.groups), fmtNumber(s.households),
				fmtNumber(s.phones), fmtNumber(s.opted_out))),
			h('p', null, t('ch.queue', fmtNumber(q.urgent),
				fmtNumber(q.normal))),
			ch.length ? table([t('ch.name'), t('ch.driver'),
				t('ch.state'), t('ch.message'),
				t('ch.in_flight'), t('ch.sent'), t('ch.failed'),
				t('ch.rate')], ch.map((c) => ({ rowHeader: true,
				attrs: { 'data-channel': c.name },
				cells: [c.name, c.driver,
					badge(t('cs.' + c.state), c.state ===
						'ok' ? 'ok' : 'warn'),
					c.message || '', fmtNumber(c.in_flight),
					fmtNumber(c.sent), fmtNumber(c.failed),
					String(c.rate === undefined ? ''
						: c.rate)] })),
			{ id: 'channels-table', class: 'numbers' })
				: h('p', null, t('ch.none')));
	}
	setView(title(t('ch.title')), host);
	await load();
	p.every(5000, () => load().catch((e) => showError(e)));
}

/* ---- audit ---- */

async function pageAudit(p) {
	let before = null;
	let entries = [];
	const host = h('div', { id: 'audit' });
	const older = button(t('bl.older'), () => act(older, () => load(true)),
		{ id: 'audit-older', hidden: true });
	async function load(append) {
		const r = await api('GET', '/v1/audit?limit=100' +
			(append && before !== null ? '&before=' + before : ''));
		if (!p.live())
			return;
		entries = append ? entries.concat(r.entries) : r.entries;
		before = r.next_before;
		fill(host, entries.length ? table([t('au.at'),
			t('au.user'), t('au.origin'), t('au.action'),
			t('au.target'), t('au.status'), t('au.detail')],
		entries.map((e) => [fmtIso(e.at), e.user +
			(e.role ? ' (' + e.role + ')' : ''), e.origin || '',
		h('code', null, e.action || ''), e.target || '',
		String(e.status), e.detail || '']), { id: 'audit-table' })
			: h('p', null, t('au.none')));
		older.hidden = before === null || before === undefined;
	}
	setView(title(t('au.title')), host, older);
	await load(false);
}

/* ---- approvals ---- */

async function pageApprovals(p) {
	const host = h('div', { id: 'approvals' });
	async function load() {
		const r = await api('GET',
			'/v1/broadcasts?state=awaiting_approval&limit=200');
		if (!p.live())
			return;
		const list = r.broadcasts || [];
		fill(host, list.length ? list.map((b) =>
			h('article', { class: 'card approval',
				'data-id': b.id },
			h('h2', null, h('a', { href: '#/broadcasts/' + b.id },
				'#' + b.id + ' ' + b.title), ' ',
			b.priority === 'urgent' ? badge(t('prio.urgent'),
				'urgent') : null),
			h('p', { class: 'muted' }, t('kind.' + b.kind) + ' — ' +
				t('bc.groups') + ': ' + groupsText(b)),
			b.body ? h('p', { class: 'message-text' }, b.body)
				: null,
			b.place ? h('p', null, t('bc.place') + ': ' + b.place)
				: null,
			h('p', { class: 'muted' }, t('ap.requested',
				b.requested_by || t('none'),
				fmtTime(b.created_ms))),
			approveButtons(b, load)))
			: h('p', { id: 'approvals-none' }, t('ap.none')));
	}
	setView(title(t('ap.title')), host);
	await load();
}

/* ---- users ---- */

async function pageUsers(p) {
	const [r, groups] = await Promise.all([api('GET', '/v1/users'),
		groupsList()]);
	if (!p.live())
		return;
	const host = h('div', { id: 'users' });

	function draw(users) {
		fill(host, table([t('us.name'), t('us.display'),
			t('us.role'), t('us.groups'), t('us.status'),
			t('us.created'), t('hh.actions')], users.map((u) => ({
			rowHeader: true, attrs: { 'data-user': u.name },
			cells: [u.name, u.display_name || '', t('role.' + u.role),
				(u.groups || []).join(', '),
				u.disabled ? badge(t('us.disabled'), 'warn')
					: t('us.enabled'),
				fmtIso(u.created),
				button(t(u.disabled ? 'us.enable' : 'us.disable'),
					(ev) => act(ev.target, async () => {
						await api('PATCH', '/v1/users/' +
							encodeURIComponent(
								u.name),
							{ disabled: !u.disabled });
						showNotice(t(u.disabled
							? 'us.enabled.ok'
							: 'us.disabled.ok', u.name));
						await reload();
					}), { class: 'small', 'aria-label':
					t(u.disabled ? 'us.enable.label'
						: 'us.disable.label', u.name) })]
		})), { id: 'users-table', class: 'stack' }));
	}

	async function reload() {
		const x = await api('GET', '/v1/users');
		if (p.live())
			draw(x.users || []);
	}

	const fName = h('input', { type: 'text', required: true,
		autocomplete: 'off', autocapitalize: 'none',
		spellcheck: 'false' });
	const fDisplay = h('input', { type: 'text', autocomplete: 'off' });
	const fRole = h('select', null, ['manager', 'official', 'admin'].map(
		(x) => h('option', { value: x }, t('role.' + x))));
	const fPw = h('input', { type: 'password',
		autocomplete: 'new-password', minlength: '10' });
	const gboxes = groups.map((g) => ({ g, box: h('input', {
		type: 'checkbox', id: 'ug-' + g.code }) }));
	const gset = h('fieldset', { id: 'us-groups' },
		h('legend', null, t('us.groups')),
		h('p', { class: 'help' }, t('us.groups.help')),
		h('div', { class: 'group-boxes' }, gboxes.map((x) =>
			h('div', { class: 'check' }, x.box,
				h('label', { for: x.box.id }, x.g.code)))));
	fRole.addEventListener('change', () => {
		gset.hidden = fRole.value !== 'manager';
	});
	const create = h('button', { type: 'submit', class: 'primary',
		id: 'us-create' }, t('us.create'));
	const form = h('form', { class: 'card', id: 'us-form',
		'aria-labelledby': 'us-form-title', novalidate: true,
		onsubmit: (ev) => {
			ev.preventDefault();
			act(create, async () => {
				const body = { name: fName.value.trim(),
					role: fRole.value };
				if (fDisplay.value.trim())
					body.display_name = fDisplay.value.trim();
				if (fPw.value)
					body.password = fPw.value;
				if (fRole.value === 'manager')
					body.groups = gboxes.filter((x) =>
						x.box.checked).map((x) =>
						x.g.code);
				const u = await api('POST', '/v1/users', body);
				form.reset();
				gset.hidden = fRole.value !== 'manager';
				showNotice(t('us.created.ok', u.name));
				await reload();
			});
		} },
		h('h2', { id: 'us-form-title' }, t('us.add')),
		field('us-name', t('us.name'), fName),
		field('us-display', t('us.display'), fDisplay),
		field('us-role', t('us.role'), fRole),
		gset,
		field('us-password', t('us.password'), fPw),
		h('div', { class: 'buttons' }, create));
	draw(r.users || []);
	setView(title(t('us.title')), host, form);
}

/* ---- routing ---- */

const ROUTES = [
	[/^#\/groups$/, pageGroups],
	[/^#\/groups\/([^/]+)$/, pageGroup],
	[/^#\/meeting\/new$/, (p) => pageBroadcastForm(p, 'meeting')],
	[/^#\/notice\/new$/, (p) => pageBroadcastForm(p, 'notice')],
	[/^#\/broadcasts$/, pageBroadcasts],
	[/^#\/broadcasts\/(\d+)$/, pageBroadcast],
	[/^#\/broadcasts\/(\d+)\/not-reached$/, pageNotReached],
	[/^#\/approvals$/, pageApprovals],
	[/^#\/channels$/, pageChannels],
	[/^#\/audit$/, pageAudit],
	[/^#\/users$/, pageUsers]
];

async function route() {
	generation++;
	stopTimers();
	clearAlert();
	if (flashText) {
		showNotice(flashText);
		flashText = null;
	}
	if (!session.user) {
		drawChrome();
		pageLogin();
		return;
	}
	let hash = location.hash;
	if (!hash || hash === '#' || hash === '#/' || hash === '#/login') {
		history.replaceState(null, '', '#/groups');
		hash = '#/groups';
	}
	drawChrome();
	const p = page();
	for (const [re, fn] of ROUTES) {
		const m = re.exec(hash);
		if (!m)
			continue;
		loading();
		const args = m.slice(1).map((x) => {
			try {
				return decodeURIComponent(x);
			} catch (e) {
				return x;
			}
		});
		try {
			await fn(p, ...args);
			if (p.live()) {
				const tt = $('page-title');
				if (tt)
					tt.focus({ preventScroll: true });
			}
		} catch (e) {
			if (!p.live())
				return;
			if (!$('page-title'))
				setView(title(e.status === 403
					? t('err.forbidden') : t('app.name')));
			showError(e);
		}
		return;
	}
	setView(title(t('err.notfound')));
}

async function start() {
	$('lang').addEventListener('click', () => {
		lang = lang === 'vi' ? 'en' : 'vi';
		storageSet('loaxa.lang', lang);
		route();
	});
	$('logout').addEventListener('click', (ev) => act(ev.target,
		async () => {
			try {
				await api('POST', '/v1/logout', {},
					{ login: true });
			} finally {
				session.user = null;
				session.csrf = null;
				session.groups = null;
				route();
			}
		}));
	window.addEventListener('hashchange', route);
	drawChrome();
	try {
		await loadMe();
	} catch (e) {
		session.user = null;
		if (e.status !== 401 && e.status !== 403)
			showError(e);
	}
	route();
}

if (document.readyState === 'loading')
	document.addEventListener('DOMContentLoaded', start);
else
	start();

})();
