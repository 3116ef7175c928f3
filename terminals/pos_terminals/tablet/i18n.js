// The till's words in Chinese (the default where the browser asks for it) and English.
// Refusals and line reasons come from the service in the till's language (the page sends
// Accept-Language); the sentences below by `code` are for answers without a `detail` (no
// connection) and for older services.

const STRINGS = {
  "zh-CN": {
    title: "收银台 · 券核销",
    lang_switch: "English",
    unpair: "解除配对",
    unpair_confirm: "解除配对后，这台平板需要新的配对码才能再收券。确定吗？",
    pair_title: "配对收银台",
    pair_help: "请向商户管理员索取配对码（十分钟内有效，仅能使用一次）。",
    pair_code: "配对码",
    pair_submit: "配对",
    pair_code_missing: "请输入管理员给的配对码。",
    paired_as: "{merchant} · {till}",
    scan_title: "扫描消费券",
    scan_help: "把券上的二维码对准摄像头，或输入券码（扫码枪也可以直接扫入）。",
    camera_starting: "正在打开摄像头…",
    camera_ready: "请将二维码对准摄像头",
    camera_unavailable: "摄像头不可用，请手动输入券码。",
    camera_start: "打开摄像头",
    voucher_input: "券码或扫码",
    voucher_submit: "确定",
    last_receipt: "上一张小票",
    basket_title: "购物篮",
    voucher_scanned: "已读取消费券",
    vouchers_scanned: "已读取 {count} 张消费券",
    voucher_n: "第 {n} 张券",
    voucher_part: "本单支付",
    add_voucher: "再扫一张券",
    back_to_basket: "返回购物篮",
    scan_next_title: "扫描下一张券",
    already_scanned: "这张券已经扫过了。",
    too_many_vouchers: "一笔交易最多使用 10 张券。",
    voucher_code: "券码 {code}",
    voucher_qr: "二维码券",
    balance: "余额",
    uses_left: "剩余次数",
    sessions_left: "剩余课次",
    sessions_used: "本次使用课次",
    per_visit_cap: "每店每天最多",
    add_line: "添加商品",
    gtin: "商品条码",
    category: "类别",
    description: "品名（可不填）",
    price: "单价（元）",
    quantity: "数量",
    add: "加入",
    remove: "删除",
    empty_basket: "请扫描商品条码或选择类别并输入价格。",
    eligible: "券可付",
    not_eligible: "券不付",
    basket_total: "合计",
    covered: "消费券支付",
    remainder_by: "还需支付（由{channel}支付）",
    channel_cash: "现金",
    confirm: "确认收券 {amount}",
    cancel_sale: "取消本单",
    identity_confirm: "我已核对持券人身份",
    quoting: "正在计算…",
    bad_price: "请输入正确的价格，例如 12.50。",
    bad_gtin: "条码有误，请重新扫描。",
    sending: "正在提交，请稍候…",
    unknown_title: "结果未知",
    unknown_help: "网络中断，暂不知道本次收券是否成功。正在用同一笔请求重试，不会重复扣款。",
    unknown_help_void: "网络中断，暂不知道这笔撤销是否完成。正在用同一笔请求重试，券额只会退回一次。",
    in_progress: "服务器仍在处理这笔请求，稍后自动重试…",
    retry_now: "立即重试",
    retry_in: "{seconds} 秒后自动重试（第 {attempt} 次）",
    receipt_title: "收券成功",
    receipt_voided_title: "已撤销",
    receipt_shop: "商户",
    receipt_till: "收银台",
    receipt_time: "时间",
    receipt_program: "项目",
    receipt_voucher_paid: "消费券支付",
    receipt_remainder: "{channel}支付",
    receipt_balance_after: "券余额",
    receipt_uses_left: "剩余次数",
    receipt_sessions_used: "本次使用课次",
    receipt_sessions_left: "剩余课次",
    receipt_id: "核销单号",
    receipt_restored: "已退回券内",
    print_58: "打印 58mm",
    print_80: "打印 80mm",
    new_sale: "下一位顾客",
    void: "撤销本单",
    void_confirm_title: "撤销这笔收券？",
    void_confirm_body: "将退回 {amount} 到消费券。商品需收回或由顾客另行付款。",
    void_yes: "确认撤销",
    void_no: "不撤销",
    problem_title: "无法收券",
    pair_problem_title: "无法配对",
    void_problem_title: "无法撤销",
    why_not: "原因：",
    unpaired_notice: "这台平板已不再配对，请重新配对。",
    network: "连接不上服务器，请检查网络后重试。",
    problems_unknown: "出了点问题，请重试。",
    pending_other_till: "上一台收银台有一笔结果未知的收券，已无法在这里确认，请联系项目方核对。",
    // Every code of the service's taxonomy (a test keeps this list complete).
    categories: {
      food: "食品", fruit_vegetables: "新鲜蔬果", grains: "米面粮油主食", meat_fish: "肉禽水产",
      eggs: "蛋类", cooking_ingredients: "食用油盐酱料", prepared_food: "熟食冷冻食品",
      sweets: "糖果甜点", snacks: "零食", soft_drinks: "饮料果汁", water: "饮用水",
      milk: "牛奶", milk_powder: "奶粉", dairy: "酸奶奶酪等乳制品", infant_formula: "婴幼儿配方奶粉",
      baby_food: "婴幼儿辅食", diapers: "纸尿裤", baby_clothing: "婴儿服装", baby_shoes: "婴儿鞋",
      baby_hats: "婴儿帽", baby_care: "婴儿护理用品", books: "图书", stationery: "文具",
      school_bags: "书包", sports_goods: "体育用品", art_supplies: "美术手工用品",
      clothing: "服装", shoes: "鞋", winter_goods: "御寒衣被取暖用品", household: "家居用品",
      toiletries: "洗护用品", toys: "玩具", medicine: "药品", medical_consumables: "医疗耗材",
      health_supplements: "保健品", meals: "餐食", courses: "课程", services: "其他服务",
      alcohol: "酒类", tobacco: "烟草", gift_card: "礼品卡", lottery: "彩票",
    },
    groups: {
      food: "食品", dairy: "乳品与婴幼儿营养", baby: "母婴用品", study: "学习与运动",
      daily: "日用品", health: "医药健康", services: "服务", restricted: "限制类",
    },
    problems: {
      invalid_token: "这张券无法识别或不是真券，请核对后重试。",
      token_expired: "这张券已过期，不能再使用。",
      token_not_yet_valid: "这张券还未到使用日期。",
      voucher_revoked: "这张券已作废，不能使用。",
      voucher_suspended: "这张券已暂停使用，请持券人联系项目方。",
      voucher_exhausted: "这张券已没有可用的余额或次数。",
      http_error: "服务的答复无法读取，请重试；如果一再出现，请联系项目方。",
      merchant_not_accepted: "这张券不能在本店使用。",
      no_eligible_lines: "购物篮里没有这张券可以支付的商品。",
      currency_mismatch: "购物篮的币种与这张券不一致。",
      identity_check_required: "请先核对持券人身份，再勾选确认。",
      channel_not_allowed: "这张券的剩余金额不能用该方式支付。",
      amount_exceeds_coverage: "金额超过了这张券可支付的额度。",
      voucher_listed_twice: "同一张券扫了两次，请删除其中一张。",
      vouchers_changed: "有券刚在别处被使用，本单未收券，请重新核对购物篮。",
      rate_limited: "短时间内输入次数过多，请一分钟后再试。",
      unauthorized: "这台平板未登录，请重新配对。",
      forbidden: "这台平板无权进行此操作。",
      already_voided: "这笔收券已经撤销过了。",
      void_window_closed: "这笔收券时间太久，收银台不能撤销，请联系项目方。",
      idempotency_conflict: "同一笔请求的内容被改动了，请重新开始本单。",
      invalid_pairing_code: "配对码无效或已过期，请索取新的配对码。",
      not_found: "没有找到对应记录。",
      validation_error: "输入有误，请检查后重试。",
      internal_error: "系统出错了，请重试；重复提交不会重复扣款。",
      network: "连接不上服务器，请检查网络后重试。",
    },
  },
  en: {
    title: "Till · Vouchers",
    lang_switch: "中文",
    unpair: "Unpair",
    unpair_confirm: "After unpairing, this tablet needs a new pairing code to take vouchers. Unpair?",
    pair_title: "Pair this till",
    pair_help: "Ask the shop's administrator for a pairing code (valid ten minutes, once).",
    pair_code: "Pairing code",
    pair_submit: "Pair",
    pair_code_missing: "Type the pairing code the administrator gave you.",
    paired_as: "{merchant} · {till}",
    scan_title: "Scan the voucher",
    scan_help: "Hold the voucher's QR code to the camera, or type its code (a barcode scanner works here too).",
    camera_starting: "Starting the camera…",
    camera_ready: "Hold the QR code to the camera",
    camera_unavailable: "No camera available. Type the voucher code instead.",
    camera_start: "Start camera",
    voucher_input: "Voucher code or scan",
    voucher_submit: "OK",
    last_receipt: "Last receipt",
    basket_title: "Basket",
    voucher_scanned: "Voucher read",
    vouchers_scanned: "{count} vouchers read",
    voucher_n: "Voucher {n}",
    voucher_part: "Pays now",
    add_voucher: "Add another voucher",
    back_to_basket: "Back to the basket",
    scan_next_title: "Scan the next voucher",
    already_scanned: "This voucher was already scanned.",
    too_many_vouchers: "At most 10 vouchers can pay one sale.",
    voucher_code: "Code {code}",
    voucher_qr: "QR voucher",
    balance: "Balance",
    uses_left: "Uses left",
    sessions_left: "Sessions left",
    sessions_used: "Sessions used now",
    per_visit_cap: "Per shop and day at most",
    add_line: "Add an item",
    gtin: "Barcode",
    category: "Category",
    description: "Description (optional)",
    price: "Unit price (yuan)",
    quantity: "Qty",
    add: "Add",
    remove: "Remove",
    empty_basket: "Scan a product barcode, or pick a category and type a price.",
    eligible: "Voucher pays",
    not_eligible: "Not covered",
    basket_total: "Total",
    covered: "Voucher pays",
    remainder_by: "Left to pay (by {channel})",
    channel_cash: "cash",
    confirm: "Confirm {amount}",
    cancel_sale: "Cancel sale",
    identity_confirm: "I have checked the holder's identity",
    quoting: "Working it out…",
    bad_price: "Type a price such as 12.50.",
    bad_gtin: "That barcode did not read correctly. Scan it again.",
    sending: "Sending…",
    unknown_title: "Outcome unknown",
    unknown_help: "The connection dropped, so we do not know yet whether this went through. Retrying the same request; it can never be taken twice.",
    unknown_help_void: "The connection dropped, so we do not know yet whether the void went through. Retrying the same request; the value goes back to the voucher only once.",
    in_progress: "The service is still working on this request; retrying shortly…",
    retry_now: "Retry now",
    retry_in: "Retrying in {seconds} s (attempt {attempt})",
    receipt_title: "Voucher accepted",
    receipt_voided_title: "Voided",
    receipt_shop: "Shop",
    receipt_till: "Till",
    receipt_time: "Time",
    receipt_program: "Program",
    receipt_voucher_paid: "Voucher paid",
    receipt_remainder: "Paid by {channel}",
    receipt_balance_after: "Voucher balance",
    receipt_uses_left: "Uses left",
    receipt_sessions_used: "Sessions used",
    receipt_sessions_left: "Sessions left",
    receipt_id: "Redemption",
    receipt_restored: "Returned to voucher",
    print_58: "Print 58 mm",
    print_80: "Print 80 mm",
    new_sale: "Next customer",
    void: "Void this sale",
    void_confirm_title: "Void this sale?",
    void_confirm_body: "{amount} goes back to the voucher. Take the goods back or have them paid another way.",
    void_yes: "Void it",
    void_no: "Keep it",
    problem_title: "Voucher not taken",
    pair_problem_title: "Not paired",
    void_problem_title: "Not voided",
    why_not: "Why: ",
    unpaired_notice: "This tablet is no longer paired. Pair it again.",
    network: "The service could not be reached. Check the network and try again.",
    problems_unknown: "Something went wrong. Try again.",
    pending_other_till: "A sale from the till this tablet was paired with before has an unknown outcome and cannot be checked here. Ask the program to check it.",
    // English labels come from the service's taxonomy (categories.json).
    categories: {},
    groups: {
      food: "Food", dairy: "Dairy and infant nutrition", baby: "Baby goods",
      study: "Study and sport", daily: "Daily goods", health: "Health", services: "Services",
      restricted: "Never paid for",
    },
    problems: {
      // The service writes its refusals in English itself; this is for an answer that is
      // not the service's (a proxy's page, say).
      http_error: "The service's answer could not be read. Try again; if it keeps "
        + "happening, call the program's staff.",
    },
  },
};

export const LANGUAGES = Object.keys(STRINGS);

/** More words for one language (a feature's own table, e.g. offline_i18n.js). */
export function addStrings(lang, strings) {
  const table = STRINGS[lang];
  for (const [key, value] of Object.entries(strings)) {
    table[key] = key === "problems" ? { ...table.problems, ...value } : value;
  }
}

/** zh-CN when the browser prefers any Chinese, else English; a saved choice wins. */
export function pickLanguage(saved, browserLanguages) {
  if (saved && STRINGS[saved]) return saved;
  for (const lang of browserLanguages || []) {
    if (/^zh\b/i.test(lang)) return "zh-CN";
    if (/^en\b/i.test(lang)) return "en";
  }
  return "zh-CN";
}

// The service's category codes: [{group, categories: [{code, label}]}], English labels.
let catalog = [];

export function setCatalog(groups) {
  catalog = Array.isArray(groups) ? groups : [];
}

function catalogLabel(code) {
  for (const group of catalog) {
    const found = group.categories.find((c) => c.code === code);
    if (found) return found.label.charAt(0).toUpperCase() + found.label.slice(1);
  }
  return null;
}

export function translator(lang) {
  const table = STRINGS[lang] || STRINGS["zh-CN"];
  const t = (key, vars = {}) => {
    const text = table[key] ?? STRINGS.en[key] ?? key;
    return String(text).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
  t.lang = lang;
  t.category = (code) => table.categories[code] || catalogLabel(code) || code;
  /** [{group, label, codes}] in the service's order; the Chinese table if it is not loaded. */
  t.categoryGroups = () => (catalog.length
    ? catalog.map((g) => ({ group: g.group, label: table.groups[g.group] || g.group,
      codes: g.categories.map((c) => c.code) }))
    : [{ group: "all", label: "", codes: Object.keys(STRINGS["zh-CN"].categories) }]);
  /** A sentence of one of a feature's own tables (e.g. `refused_reasons`), or undefined. */
  t.entry = (group, key, vars = {}) => {
    const text = (table[group] || {})[key];
    return text === undefined ? undefined
      : String(text).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
  t.problem = (problem) => {
    // The service writes `detail` in the till's language (and names the voucher of a sale
    // with several); the table below is for answers without one.
    if (problem.detail) return problem.detail;
    const sentence = (problem.reason && table.problems[`${problem.code}.${problem.reason}`])
      || table.problems[problem.code];
    if (!sentence) return t("problems_unknown");
    const which = problem.voucher?.position;
    return which ? `${t("voucher_n", { n: which })}：${sentence}` : sentence;
  };
  return t;
}
