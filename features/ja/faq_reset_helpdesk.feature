# language: ja
# 出典: faq-totp-reset-2021.en.txt「In case you see the message 'An email has been sent to the ICT
# Support Center'」（『情報環境支援センターにメールを送信しました』と表示された場合）の ①〜②
# （protocol.md §19.5 では「ICT ①–②」と記す）と、その前後の操作手順: 旧ポータル（プロファイル
# iimc-2021、reset.mode = "link"）で、メール認証用アドレスを登録していないアカウントの場合。
# 確認コードで初期化するプロファイルでは、これらのシナリオは RESET_LINK_* のタグにより
# NOT_APPLICABLE となる（protocol.md §19.1）。
# 操作手順 ⑤〜⑧（メールの URL と、初期設定の画面に戻る操作）は行わない: URL はメールされず、
# QR コードの画面が自動的に表示される（ICT ②「step9 から操作」）。
# 電話そのもの（「TEL:075-753-7840(ex:16-7840)」「open 9:00-17:00」）は対象外: ハーネスの
# オペレーターが情報環境支援センターの役を務め、本人確認を行う。
@manual_faq_totp_reset_2021
機能: アドレス未登録のときの情報環境支援センターによる初期化（2021年のポータル）
  アプリだけで設定したアカウントには、URL を送るアドレスがない。『初期化』は代わりに情報環境
  支援センターにメールを送る。利用者は画面を開いたまま情報環境支援センターに電話し、本人確認が
  済むと QR コードの画面が自動的に表示される。

  @RESET_LINK_HELPDESK_MAIL @RESET_LINK_HELPDESK_CONFIRM @RESET_THEN_SETUP @RESET_VOIDS_APPS @APP_REGISTER_REQUIRES_CODE @LOGOUT
  シナリオ: 情報環境支援センターが本人確認を行い、QR コードの画面が自動的に表示される
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者は Authenticator アプリを登録している
    # 操作手順 ① ②
    もし 『Click here if you have not initialized your one-time password (TOTP) yet.』をクリックする
    # 操作手順 ③
    かつ SPS-ID とパスワードを入力して『Login』をクリックし、次の画面で『初期化』をクリックする
    # 操作手順 ④、ICT ①
    ならば 画面に「An email has been sent to the ICT Support Center.」と表示され、アカウントを知らせるメールが情報環境支援センターに届く
    # ICT ① 電話:「画面は閉じないでください」
    もし 画面を開いたまま情報環境支援センターに電話し、本人確認を受ける
    # ICT ②
    ならば 開いたままの画面に QR コードの画面が自動的に表示される
    # 操作手順 ⑨
    もし スマートフォンの Authenticator アプリで QR コードを読み込む
    # 操作手順 ⑩ ⑪ 『登録』、アプリに表示された TOTP、『確認』
    かつ アプリに表示されたワンタイムパスワードを入力して『登録』をクリックする
    # 操作手順 ⑫
    ならば アプリが登録される
    もし 右上の『☰』をクリックし、『ログアウト』をクリックする
    ならば 次回のログインでは新しいアプリのワンタイムパスワードだけが受け付けられ、古いアプリのものは拒否される

  @RESET_LINK_HELPDESK_CONFIRM
  シナリオ: 初期化の手続き中でなければ情報環境支援センターは初期化を確定しない
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者は Authenticator アプリを登録している
    もし 情報環境支援センターに初期化の確定を依頼する
    ならば 情報環境支援センターは初期化を確定できない

  @RESET_LINK_HELPDESK_CONFIRM
  シナリオ: URL を受け取れるアドレスのあるアカウントでは情報環境支援センターは初期化を確定しない
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はメール認証用アドレスにプライベートなアドレスを登録している
    もし 『Click here if you have not initialized your one-time password (TOTP) yet.』をクリックする
    かつ SPS-ID とパスワードを入力して『Login』をクリックし、次の画面で『初期化』をクリックする
    かつ 情報環境支援センターに初期化の確定を依頼する
    ならば 情報環境支援センターは初期化を確定できない
